"""Cost of the conversation layer (nlu/dialogue.py: policy, aspect, follow-up, several topics,
address) on top of understanding, beside the embedding call alone. The target: understanding plus
the conversation layer stays within 1.2x the embedding call per message.
Run: python bench/conversation_bench.py [--set test] [--repeat 2]"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import pct, set_args, understander  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    set_args(ap)
    args = ap.parse_args()
    from nlu import dialogue
    settings, u, texts, _ = understander(args.set)
    topic = "ho-tich.khai-sinh"  # every message read as if a topic were under discussion
    emb, full, layer = [], [], []
    for _ in range(args.repeat):
        for t in texts:
            a = time.perf_counter()
            x = u.understand(t)
            b = time.perf_counter()
            x = dialogue.apply_policy(t, x)
            x, _ = dialogue.resolve(t, x, topic)
            dialogue.topics_in(t, x, u)
            dialogue.self_term(t)
            c = time.perf_counter()
            emb.append(u.last_embed_seconds * 1000)
            full.append((c - a) * 1000)
            layer.append((c - b) * 1000)
    print(f"embedder {settings.embedder}, {len(texts)} messages x {args.repeat}")
    print(f"{'':34}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    for name, xs in (("embedding call", emb), ("conversation layer alone", layer),
                     ("understanding + conversation", full)):
        print(f"{name:34}{pct(xs, 50):9.2f}{pct(xs, 95):9.2f}{statistics.mean(xs):9.2f}")
    print(f"ratio mean (understanding + conversation)/embedding: {statistics.mean(full) / statistics.mean(emb):.2f}")
    print(f"ratio p95: {pct(full, 95) / pct(emb, 95):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
