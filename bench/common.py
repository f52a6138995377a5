"""What the understanding benches share: percentiles, and the understander built as `serve`
builds it, warmed up on the chosen evaluation set."""
from __future__ import annotations

import argparse
import time


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def set_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--set", default="test", help="evaluation set in nlu/eval (test, dev, ...)")
    ap.add_argument("--repeat", type=int, default=2)


def understander(set_name: str):
    """(settings, understander, texts, start-up seconds). The repeat cache is off: the sets run
    several times, and the benches measure the encoder, not the cache."""
    from bot.config import Settings
    from knowledge.kb import KnowledgeBase
    from nlu import pipeline
    from nlu.evaluate import load_set
    settings = Settings.from_env()
    t0 = time.perf_counter()
    u = pipeline.build(settings, KnowledgeBase.load(settings.kb_dir))
    startup = time.perf_counter() - t0
    if hasattr(u, "VEC_CACHE_SIZE"):
        u.VEC_CACHE_SIZE = 0
    texts = [r["text"] for r in load_set(set_name)]
    for t in texts[:10]:  # warm caches
        u.understand(t)
    return settings, u, texts, startup
