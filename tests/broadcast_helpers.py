"""Shared bits for the class-notice tests: a recording fake sender and quick set-up helpers."""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

from sqlmodel import select

from bot import roles as R
from bot.models import OutboxMessage, Person
from bot.outbox import SendError
from handlers.broadcast import service as S
from tests.conftest import Chat


class FakeSender:
    """Records every call; faults per chat: "429:N", "500", "blocked", "400", consumed in order."""

    def __init__(self, latency: float = 0.0):
        self.calls: list[tuple[str, str]] = []
        self.script: dict[str, list[str]] = {}
        self.latency = latency
        self.active = self.max_active = 0
        self._lock = threading.Lock()

    def send(self, chat_id, reply):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            steps = self.script.get(chat_id, [])
            fault = steps.pop(0) if steps else None
        try:
            if self.latency:
                time.sleep(self.latency)
            if fault and fault.startswith("429"):
                raise SendError("Too Many Requests", retry_after=float(fault.split(":")[1]))
            if fault == "500":
                raise SendError("HTTP 500")
            if fault == "blocked":
                raise SendError("Forbidden: bot was blocked by the user", blocked=True)
            if fault == "400":
                raise SendError("Bad Request: chat not found", permanent=True)
            with self._lock:
                self.calls.append((chat_id, reply.text))
        finally:
            with self._lock:
                self.active -= 1

    def per_chat(self) -> Counter:
        return Counter(c for c, _ in self.calls)


def staff_chat(app, chat_id="staff-1", name="Cán bộ Lan") -> Chat:
    c = Chat(app, chat_id, name=name)
    c.say("/start")
    with app.db.session() as s:
        p = s.exec(select(Person).where(Person.channel == "web", Person.channel_user_id == chat_id)).one()
        R.grant(s, p, R.STAFF, app.clock.now())
    return c


def subscribe_many(app, n: int, group="tdp-01", topics=(), channel="web", prefix="r") -> list[int]:
    """Subscribers without going through the chat (the chat path has its own tests)."""
    ids = []
    now = app.clock.now()
    with app.db.session() as s:
        for i in range(n):
            p = Person(channel=channel, channel_user_id=f"{prefix}{i}", chat_id=f"{prefix}{i}",
                       display_name=f"Người {prefix}{i}", created_at=now, last_seen_at=now)
            s.add(p)
            s.flush()
            S.subscribe(s, p, channel, f"{prefix}{i}", group, list(topics), now)
            ids.append(p.id)
    return ids


def publish_class(app, capacity=30, groups=(), topic="vneid", topic_only=False, days=6, weeks=None,
                  hour=8) -> int:
    now = app.clock.now()
    from bot.clock import to_local
    first = (to_local(now) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    starts = S.occurrence_times(first, weeks=weeks)
    with app.db.session() as s:
        cls = S.create_class(s, S.ClassDraft(topic=topic, starts=starts, place="Nhà sinh hoạt tổ 1",
                                             capacity=capacity, groups=list(groups), topic_only=topic_only),
                             app.profile, now, None)
        S.publish(app, s, cls, now)
        return cls.id


def outbox(app, **where) -> list[OutboxMessage]:
    with app.db.session() as s:
        q = select(OutboxMessage).order_by(OutboxMessage.id)
        for k, v in where.items():
            q = q.where(getattr(OutboxMessage, k) == v)
        return list(s.exec(q))
