"""Platform send limits, shared by direct replies and the outbox worker of one process, and on
PostgreSQL by every worker (SharedRateLimiter: one row per platform in the database).

Telegram: about 30 messages/s overall, 1/s per private chat, 20/min per group. Zalo documents
its own figures; the channel adapter passes them in. `acquire` blocks until sending is allowed.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque

from sqlalchemy import case, update
from sqlmodel import Field, SQLModel


class RateLimiter:
    def __init__(self, per_second: float, per_chat_interval: float = 1.0,
                 group_per_minute: int = 20, clock=time.monotonic, sleep=time.sleep):
        self.per_second = per_second
        self.per_chat_interval = per_chat_interval
        self.group_per_minute = group_per_minute
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_global = 0.0
        self._next_chat: dict[str, float] = {}
        self._group_sent: dict[str, deque] = {}

    def _reserve(self, chat_id: str, is_group: bool) -> float:
        """Reserve the earliest slot for this chat; returns the time to wait before sending."""
        with self._lock:
            now = self._clock()
            at = max(now, self._next_global, self._next_chat.get(chat_id, 0.0))
            if is_group:
                window = self._group_sent.setdefault(chat_id, deque())
                while window and window[0] <= at - 60:
                    window.popleft()
                if len(window) >= self.group_per_minute:
                    at = max(at, window[0] + 60)
                window.append(at)
            self._next_global = at + 1.0 / self.per_second
            self._next_chat[chat_id] = at + self.per_chat_interval
            if len(self._next_chat) > 100_000:  # forget chats idle for long
                self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
            return at - now

    def acquire(self, chat_id: str, is_group: bool = False) -> None:
        wait = self._reserve(str(chat_id), is_group)
        if wait > 0:
            self._sleep(wait)

    def penalise(self, seconds: float) -> None:
        """A 429 with retry_after: the whole bot waits, as the platform asks."""
        with self._lock:
            self._next_global = max(self._next_global, self._clock() + seconds)


# --- shared across workers --------------------------------------------------------------------

class RateSlot(SQLModel, table=True):
    """The next free send slot of a platform (epoch seconds), shared by every worker on the
    database: one atomic UPDATE reserves a slot, so N workers together keep the platform's rate."""
    __tablename__ = "rate_slot"
    name: str = Field(primary_key=True, max_length=64)
    next_at: float = 0.0


class SharedRateLimiter(RateLimiter):
    """RateLimiter whose overall rate is one row in the database (virtual scheduling: each
    message reserves `next_at` and pushes it 1/rate later), so several `serve` workers together
    stay under the platform's limit. Per-chat and per-group pacing stay in the process: a
    chat's messages are answered by the worker that handles them. Wall-clock time, so workers
    on several hosts need synchronised clocks (NTP)."""

    def __init__(self, db, name: str, per_second: float, per_chat_interval: float = 1.0,
                 group_per_minute: int = 20, wall=time.time, sleep=time.sleep):
        from bot.db import insert_ignore
        super().__init__(per_second, per_chat_interval, group_per_minute, clock=wall, sleep=sleep)
        self.db, self.name, self._wall = db, name, wall
        self._penalty_until = 0.0
        with db.engine.begin() as c:
            insert_ignore(c, RateSlot.__table__, {"name": name, "next_at": 0.0}, ["name"])

    def _take(self, earliest: float, step: float) -> float:
        """Reserve the first slot at or after `earliest`; returns its time."""
        t = RateSlot.__table__
        with self.db.engine.begin() as c:
            new = c.execute(update(t).where(t.c.name == self.name).values(
                next_at=case((t.c.next_at > earliest, t.c.next_at), else_=earliest) + step)
                .returning(t.c.next_at)).scalar_one()
        return float(new) - step

    def _local_earliest(self, chat_id: str, is_group: bool) -> float:
        """When this worker may send to this chat: per-chat and group pacing and 429 penalties
        stay in the process, as in RateLimiter."""
        with self._lock:
            at = max(self._next_chat.get(chat_id, 0.0), self._penalty_until)
            if is_group:
                window = self._group_sent.setdefault(chat_id, deque())
                while window and window[0] <= self._wall() - 60:
                    window.popleft()
                if len(window) >= self.group_per_minute:
                    at = max(at, window[0] + 60)
            return at

    def acquire(self, chat_id: str, is_group: bool = False) -> None:
        chat_id = str(chat_id)
        # Wait for local reasons first, then take the next shared slot: a worker that must wait
        # (a 429, a chat's 1 s pacing) never pushes the other workers' schedule out.
        local = self._local_earliest(chat_id, is_group) - self._wall()
        if local > 0:
            self._sleep(local)
        at = self._take(self._wall(), 1.0 / self.per_second)
        with self._lock:
            if is_group:
                self._group_sent.setdefault(chat_id, deque()).append(at)
            self._next_chat[chat_id] = at + self.per_chat_interval
            if len(self._next_chat) > 100_000:
                now = self._wall()
                self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
        wait = at - self._wall()
        if wait > 0:
            self._sleep(wait)

    def penalise(self, seconds: float) -> None:
        """A 429 stops this worker's sends for retry_after, as in RateLimiter. Kept in the process:
        written to the shared row it would outlive a restart and stop every worker for the
        whole wait, where Telegram's flood control is often about one chat."""
        with self._lock:
            self._penalty_until = max(self._penalty_until, self._wall() + seconds)


def shared_enabled(db) -> bool:
    """Shared limits cost one database write per message: on by default on PostgreSQL (where
    several workers run), off on SQLite unless BOT_SHARED_RATE=1."""
    flag = (os.environ.get("BOT_SHARED_RATE") or "").strip().lower()
    if flag in ("0", "off", "no"):
        return False
    return flag in ("1", "on", "yes") or db.engine.dialect.name == "postgresql"


def limiter(db, name: str, per_second: float, per_chat_interval: float = 1.0,
            group_per_minute: int = 20) -> RateLimiter:
    """The platform limiter a channel should use: shared through the database when several
    workers may send (see shared_enabled), in-process otherwise."""
    if db is not None and shared_enabled(db):
        return SharedRateLimiter(db, name, per_second, per_chat_interval, group_per_minute)
    return RateLimiter(per_second, per_chat_interval, group_per_minute)
