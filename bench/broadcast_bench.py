"""Broadcast bench: one class notice to N subscribers through the outbox dispatcher and a local
Telegram-Bot-API-shaped endpoint; prints the achieved send rate against the configured limit,
duplicates, missing recipients, 429s and peak memory.

    python bench/broadcast_bench.py                                # full run: 10,000 at 30/s (~6 min)
    python bench/broadcast_bench.py --recipients 2000 --rate 200   # quick run (~10 s)

--emulator picks the endpoint and sender: "mini" (default, handlers/broadcast/minitelegram.py,
started here on 127.0.0.1) or "module:function", a factory called as function(args) that returns
(sender, received, stop): a bot.outbox.Sender, a callable giving the list of chat ids the
emulator accepted, and a callable that shuts it down. Point it at the real Telegram emulator and
sender once they are merged. The endpoint answers 429 (retry_after 1) when sent to faster than
the limit plus --tolerance, as Telegram does; the dispatcher then backs off."""
from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, update  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.config import normalise_db_url  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.models import OutboxMessage, Person  # noqa: E402
from bot.outbox import Dispatcher  # noqa: E402
from bot.profile import load_profile  # noqa: E402
from bot.ratelimit import RateLimiter  # noqa: E402


def mini_emulator(args):
    """The mini endpoint in a subprocess (own GIL, like a real remote API), and its sender."""
    import subprocess

    import httpx

    from handlers.broadcast.minitelegram import MiniTelegramSender
    proc = subprocess.Popen([sys.executable, "-m", "handlers.broadcast.minitelegram", "serve",
                             "--max-per-second", str(args.rate * (1 + args.tolerance)),
                             "--latency", str(args.latency)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    sender = MiniTelegramSender(url, pool=args.threads * 2)

    def stats():
        return httpx.get(url + "/stats", timeout=60).json()

    def received():
        data = stats()
        bench_state["times"] = sorted(t for _, t in data["received"])
        bench_state["status_counts"] = data["status_counts"]
        return [c for c, _ in data["received"]]

    def stop():
        sender.close()
        proc.stdin.close()
        proc.wait(timeout=10)
    return sender, received, stop


bench_state: dict = {}


def setup(db: Database, n: int) -> int:
    """n subscribed residents on Telegram and one published class; returns the notices enqueued."""
    from handlers.broadcast import service as S
    from handlers.broadcast.models import ClassSubscription

    now = datetime.now(timezone.utc)
    profile = load_profile(ROOT / "knowledge" / "ward.yaml")
    groups = [g.code for g in profile.residential_groups]
    with db.session() as s:
        s.exec(insert(Person), params=[dict(channel="telegram", channel_user_id=str(10_000_000 + i),
                                            chat_id=str(10_000_000 + i), display_name=f"Cư dân {i}",
                                            created_at=now, last_seen_at=now) for i in range(n)])
        rows = s.exec(select(Person.id, Person.chat_id).where(Person.channel == "telegram")
                      .order_by(Person.id)).all()
        s.exec(insert(ClassSubscription), params=[dict(person_id=pid, channel="telegram", chat_id=c,
                                                       group_code=groups[i % len(groups)], topics=[],
                                                       created_at=now, updated_at=now)
                                                  for i, (pid, c) in enumerate(rows)])

    class _App:  # publish() needs only the profile
        pass
    app = _App()
    app.profile = profile
    start = (now + timedelta(days=3)).astimezone(S.TZ).replace(hour=8, minute=0, second=0, microsecond=0)
    with db.session() as s:
        cls = S.create_class(s, S.ClassDraft(topic="vneid", starts=[start], place="Nhà sinh hoạt cộng đồng tổ 1",
                                             capacity=50), profile, now, None)
        enqueued = S.publish(app, s, cls, now)
        # The bench ignores the ward's quiet hours: everything is due now.
        s.exec(update(OutboxMessage).where(OutboxMessage.status == "pending").values(not_before=now))
    return enqueued


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=10_000)
    p.add_argument("--rate", type=float, default=30.0, help="configured limit, messages/s (Telegram: 30)")
    p.add_argument("--threads", type=int, default=16, help="parallel HTTP sends")
    p.add_argument("--latency", type=float, default=0.05, help="simulated API latency per request, seconds")
    p.add_argument("--tolerance", type=float, default=0.10, help="endpoint answers 429 above rate*(1+tolerance)")
    p.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    p.add_argument("--emulator", default="mini", help='"mini" or "module:function" (see the docstring)')
    args = p.parse_args(argv)

    tmp = tempfile.TemporaryDirectory()
    url = normalise_db_url(args.db) if args.db else f"sqlite:///{tmp.name}/bench.db"
    db = Database(url)
    db.migrate()
    t0 = time.monotonic()
    enqueued = setup(db, args.recipients)
    t_setup = time.monotonic() - t0

    if args.emulator == "mini":
        sender, received, stop = mini_emulator(args)
    else:
        mod, _, fn = args.emulator.partition(":")
        sender, received, stop = getattr(importlib.import_module(mod), fn)(args)

    limiter = RateLimiter(args.rate)
    d = Dispatcher(db, {"telegram": sender}, now=lambda: datetime.now(timezone.utc),
                   limiters={"telegram": limiter}, threads=args.threads)
    t1 = time.monotonic()
    sent = 0
    while True:  # like the outbox worker: run until nothing is due or waiting for a retry
        sent += d.run()
        with db.session() as s:
            left = s.exec(select(OutboxMessage.id).where(OutboxMessage.status.in_(["pending", "sending"]))).first()
        if left is None:
            break
        time.sleep(0.05)
    wall = time.monotonic() - t1
    got = received()
    stop()

    counts = Counter(got)
    dups = sum(c - 1 for c in counts.values() if c > 1)
    missing = args.recipients - len(counts)
    times = bench_state.get("times")
    if times and len(times) > 1:  # the endpoint's own clock: first to last message accepted
        span = times[-1] - times[0]
        achieved = (len(times) - 1) / span if span > 0 else float("inf")
        n429 = bench_state["status_counts"].get("429", 0)
    else:
        achieved = len(got) / wall if wall > 0 else float("inf")
        n429 = None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = achieved >= 0.95 * args.rate and dups == 0 and missing == 0
    result = {
        "recipients": args.recipients, "enqueued": enqueued, "sent_marked": sent, "received": len(got),
        "configured_rate": args.rate, "achieved_rate": round(achieved, 2),
        "rate_ratio": round(achieved / args.rate, 4), "duplicates": dups, "missing": missing,
        "http_429": n429, "threads": args.threads, "latency_s": args.latency, "wall_s": round(wall, 1),
        "setup_s": round(t_setup, 1), "peak_rss_mb": round(peak_mb, 1), "db": url.split(":")[0], "ok": ok,
    }
    print(f"recipients {args.recipients}, configured {args.rate:g} msg/s, latency {args.latency * 1000:.0f} ms, "
          f"{args.threads} send threads, db {result['db']}")
    print(f"achieved  {achieved:.2f} msg/s = {100 * achieved / args.rate:.1f}% of the limit "
          f"(wall {wall:.1f} s, setup {t_setup:.1f} s)")
    print(f"duplicates {dups}, missing {missing}, 429 answers {n429}, peak RSS {peak_mb:.0f} MB")
    print(json.dumps(result))
    db.dispose()
    tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
