"""Persistent outbox: messages the bot sends on its own (notices, reminders, broadcasts).

Rows are written in the transaction of the event that causes them, then delivered by a
dispatcher. A crash between the two loses nothing; the dedupe key makes a retry harmless.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.core import Reply
from bot.models import OutboxMessage

log = logging.getLogger(__name__)


class SendError(Exception):
    def __init__(self, msg: str, retry_after: float | None = None, permanent: bool = False,
                 blocked: bool = False):
        super().__init__(msg)
        self.retry_after, self.permanent, self.blocked = retry_after, permanent, blocked


class Sender(Protocol):
    def send(self, chat_id: str, reply: Reply) -> None: ...


def enqueue(session: Session, channel: str, chat_id: str, reply: Reply, now: datetime,
            dedupe_key: str | None = None, kind: str = "notice",
            not_before: datetime | None = None) -> OutboxMessage | None:
    """Returns None when a message with this dedupe key already exists (sent or not)."""
    if dedupe_key is not None:
        existing = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return None
        # A concurrent writer may insert the same key between our check and flush.
        try:
            with session.begin_nested():
                row = OutboxMessage(channel=channel, chat_id=chat_id, payload=reply.to_dict(), kind=kind,
                                    dedupe_key=dedupe_key, created_at=now, not_before=not_before or now)
                session.add(row)
                session.flush()
        except IntegrityError:
            return None
        return row
    row = OutboxMessage(channel=channel, chat_id=chat_id, payload=reply.to_dict(), kind=kind,
                        dedupe_key=None, created_at=now, not_before=not_before or now)
    session.add(row)
    return row


MAX_ATTEMPTS = 8


def deliver_due(db, senders: dict[str, Sender], now: datetime, limit: int = 100) -> int:
    """Send what is due, one row at a time, each in its own transaction. Returns how many sent."""
    sent = 0
    with db.session() as s:
        ids = list(s.exec(select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.not_before <= now,
            OutboxMessage.channel.in_(list(senders))).order_by(OutboxMessage.id).limit(limit)))
    for oid in ids:
        with db.session() as s:
            row = s.get(OutboxMessage, oid)
            if row is None or row.status != "pending":
                continue
            row.attempts += 1
            try:
                senders[row.channel].send(row.chat_id, Reply.from_dict(row.payload))
            except SendError as e:
                row.last_error = str(e)[:500]
                if e.blocked:
                    row.status = "blocked"
                elif e.permanent or row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                else:
                    delay = e.retry_after if e.retry_after is not None else min(2 ** row.attempts, 300)
                    row.not_before = now + timedelta(seconds=delay)
            except Exception as e:  # a bug in a sender must not stop the other messages
                log.exception("sender for %s failed", row.channel)
                row.last_error = repr(e)[:500]
                row.status = "failed" if row.attempts >= MAX_ATTEMPTS else "pending"
                row.not_before = now + timedelta(seconds=min(2 ** row.attempts, 300))
            else:
                row.status, row.sent_at = "sent", now
                sent += 1
            s.add(row)
    return sent
