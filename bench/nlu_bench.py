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

from bench.common import pct, set_args, understander  # noqa: E402


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


def main() -> int:
    ap = argparse.ArgumentParser()
    set_args(ap)
    args = ap.parse_args()
    settings, u, texts, startup = understander(args.set)
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
