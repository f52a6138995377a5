"""Time per message of the full understanding pipeline beside the embedding call alone, and the
process's resident memory. Run: python bench/nlu_bench.py [--set test] [--repeat 3]"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident-set size in MB."""
    cur = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
    except OSError:
        pass
    return cur, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="test")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    from bot.config import Settings
    from knowledge.kb import KnowledgeBase
    from nlu import pipeline
    from nlu.evaluate import load_set

    settings = Settings.from_env()
    t0 = time.perf_counter()
    u = pipeline.build(settings, KnowledgeBase.load(settings.kb_dir))
    startup = time.perf_counter() - t0
    if hasattr(u, "VEC_CACHE_SIZE"):
        u.VEC_CACHE_SIZE = 0  # the set is run several times: measure the encoder, not the repeat cache
    texts = [r["text"] for r in load_set(args.set)]
    for t in texts[:10]:  # warm caches
        u.understand(t)
    emb, full = [], []
    for _ in range(args.repeat):
        for t in texts:
            # The embedding call is timed inside the same understand() call, so machine noise
            # hits both figures alike.
            b = time.perf_counter()
            u.understand(t)
            c = time.perf_counter()
            emb.append(u.last_embed_seconds * 1000)
            full.append((c - b) * 1000)
    cur, peak = rss_mb()
    print(f"embedder {settings.embedder}, {len(texts)} messages x {args.repeat}, start-up {startup:.2f}s")
    print(f"{'':22}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    print(f"{'embedding call':22}{pct(emb, 50):9.1f}{pct(emb, 95):9.1f}{statistics.mean(emb):9.1f}")
    print(f"{'full pipeline':22}{pct(full, 50):9.1f}{pct(full, 95):9.1f}{statistics.mean(full):9.1f}")
    print(f"ratio p95 full/embedding: {pct(full, 95) / pct(emb, 95):.2f}")
    print(f"RSS now {cur:.0f} MB, peak {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
