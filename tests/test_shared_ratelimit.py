"""The platform rate shared through the database: two limiters (as two workers) on one database
together keep one rate."""
from __future__ import annotations

from bot.db import Database
from bot.ratelimit import RateLimiter, SharedRateLimiter, limiter


class FakeTime:
    def __init__(self):
        self.t = 1000.0

    def wall(self) -> float:
        return self.t

    def sleep(self, d: float) -> None:
        self.t += max(0.0, d)


def test_two_limiters_on_one_database_share_the_rate(settings):
    db = Database(settings.database_url)
    ft = FakeTime()
    try:
        a = SharedRateLimiter(db, "telegram-test", 30, wall=ft.wall, sleep=ft.sleep)
        b = SharedRateLimiter(db, "telegram-test", 30, wall=ft.wall, sleep=ft.sleep)
        sent = []
        for i in range(60):
            (a if i % 2 else b).acquire(f"chat{i}")
            sent.append(ft.t)
        assert abs(sent[-1] - sent[0] - 59 / 30) < 1e-6  # 60 messages take two seconds, not one
        assert all(abs((y - x) - 1 / 30) < 1e-6 for x, y in zip(sent, sent[1:]))
        t0 = ft.t
        a.acquire("chat1")  # per-chat pacing: 1 s after its last message
        assert ft.t - sent[1] >= 1.0 - 1e-6
        # a 429 stops only the worker that got it, and does not push the others' slots out
        a.penalise(30)
        t0 = ft.t
        b.acquire("other-b")
        assert ft.t - t0 < 0.1
        a.acquire("other-a")
        assert ft.t - t0 >= 30
        c = SharedRateLimiter(db, "zalo-test", 15, wall=ft.wall, sleep=ft.sleep)  # its own row
        t0 = ft.t
        c.acquire("z")
        assert ft.t == t0
    finally:
        db.dispose()


def test_shared_only_where_several_workers_run(settings, monkeypatch):
    db = Database(settings.database_url)
    try:
        monkeypatch.delenv("BOT_SHARED_RATE", raising=False)
        lim = limiter(db, "telegram", 30)
        assert isinstance(lim, SharedRateLimiter) == (db.engine.dialect.name == "postgresql")
        monkeypatch.setenv("BOT_SHARED_RATE", "1")
        assert isinstance(limiter(db, "telegram", 30), SharedRateLimiter)
        monkeypatch.setenv("BOT_SHARED_RATE", "0")
        assert type(limiter(db, "telegram", 30)) is RateLimiter
    finally:
        db.dispose()
