"""How fast the Telegram sender empties the outbox, against the local Bot API emulator.

    python bench/telegram_send.py [N]        # N recipients, default 10,000

Two runs: the production limiter (30 messages/s overall, the platform's limit, on a shorter
list) and no limiter (what the code path itself costs: PTB, the loop bridge, the database).
"""
from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import App  # noqa: E402
from bot.channels.telegram import TelegramChannel  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core import Reply  # noqa: E402
from bot.outbox import enqueue  # noqa: E402
from bot.ratelimit import RateLimiter  # noqa: E402
from tests.emulators.telegram import TelegramEmulator  # noqa: E402


def run(n: int, limiter: RateLimiter | None) -> float:
    emu = TelegramEmulator().start()
    emu.keep_calls = False
    emu.enforce_limits = limiter is not None  # a 429 from the emulator means we sent too fast
    tmp = Path(tempfile.mkdtemp())
    s = replace(Settings.from_env(), data_dir=tmp, database_url=f"sqlite:///{tmp / 'bot.db'}",
                telegram_token=emu.token, telegram_api_url=emu.url, public_url=None)
    app = App(s, understander=object())
    ch = TelegramChannel(app, limiter=limiter or RateLimiter(1e9, 0.0, 10**9), poll_timeout=1)
    ch.start()
    with app.db.session() as sess:
        for i in range(n):
            enqueue(sess, "telegram", str(10_000 + i), Reply("Lớp Bình dân học vụ số: 8h sáng thứ Bảy tại nhà văn hóa."),
                    now=app.clock.now(), kind="broadcast")
    t0 = time.perf_counter()
    while app.deliver_outbox():
        pass
    if limiter is not None:
        print(f"  flood-control 429s from the emulator: {emu.limit_violations}")
    dt = time.perf_counter() - t0
    assert len(emu.sent_count) == n and set(emu.sent_count.values()) == {1}, "each recipient exactly once"
    ch.stop()
    emu.stop()
    app.close()
    return dt


def run_replies(n: int) -> tuple[float, float]:
    """n residents send /start at once (polling); time until every one is answered, and the
    median time from an update's arrival to its answer. No limiter: the code path's cost."""
    emu = TelegramEmulator().start()
    tmp = Path(tempfile.mkdtemp())
    s = replace(Settings.from_env(), data_dir=tmp, database_url=f"sqlite:///{tmp / 'bot.db'}",
                telegram_token=emu.token, telegram_api_url=emu.url, public_url=None)
    app = App(s, understander=object())
    ch = TelegramChannel(app, limiter=RateLimiter(1e9, 0.0, 10**9), poll_timeout=1)
    ch.start()
    t0 = time.perf_counter()
    for i in range(n):
        emu.text(20_000 + i, "/start")
    while sum(emu.sent_count.values()) < n:
        time.sleep(0.005)
    dt = time.perf_counter() - t0
    ch.stop()
    emu.stop()
    app.close()
    return dt, dt / n


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    dt = run(n, None)
    print(f"no limiter: {n} messages in {dt:.1f}s = {n / dt:.0f}/s")
    m = min(n, 300)
    dt = run(m, RateLimiter(30, 1.0, 20))
    print(f"Telegram limits (30/s): {m} messages in {dt:.1f}s = {m / dt:.1f}/s")
    dt, _ = run_replies(500)
    print(f"direct replies: 500 residents' /start answered in {dt:.1f}s = {500 / dt:.0f}/s "
          "(engine, reply journal, send; polling)")
