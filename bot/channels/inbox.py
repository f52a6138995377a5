"""The durable webhook inbox both Zalo channels (Bot Platform and OA) use: an event is inserted
before the platform is acknowledged, handled in the background on the chat's serial executor, and
marked done once handled; events left undone by a restart are handled at the next start."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.channels.zalo_oa_models import WebhookInbox

log = logging.getLogger(__name__)

RESUME_WITHIN = timedelta(days=2)  # older undone events are stale: the resident has moved on


class InboxMixin:
    """For a channel with `app`, `executor` (a ChatSerialExecutor), `inbox_channel` and
    `process(event)`; it implements `chat_key(event)`: events with one key are handled in order."""
    app: object
    executor: object
    inbox_channel: str

    def chat_key(self, event: dict) -> str:
        raise NotImplementedError

    def process(self, event: dict) -> None:
        raise NotImplementedError

    def store(self, key: str, body: str) -> str | None:
        """Insert-or-nothing; the key to process, or None for a redelivery already stored."""
        with self.app.db.session() as s:
            if s.get(WebhookInbox, (self.inbox_channel, key)) is not None:
                return None
            try:
                with s.begin_nested():
                    s.add(WebhookInbox(channel=self.inbox_channel, event_key=key, body=body,
                                       received_at=self.app.clock.now()))
                    s.flush()
            except IntegrityError:  # another worker stored it a moment ago
                return None
        return key

    def submit_key(self, key: str, chat_key: str) -> None:
        try:
            self.executor.submit(chat_key or "none", lambda: self._process_key(key))
        except RuntimeError:  # shutting down: the inbox keeps it for the next start
            pass

    def resume_inbox(self) -> int:
        """Events stored but not handled before a restart are handled now."""
        since = self.app.clock.now() - RESUME_WITHIN
        with self.app.db.session() as s:
            rows = list(s.exec(select(WebhookInbox.event_key, WebhookInbox.body).where(
                WebhookInbox.channel == self.inbox_channel, WebhookInbox.done_at.is_(None),
                WebhookInbox.received_at >= since).order_by(WebhookInbox.received_at)))
        for key, body in rows:
            try:
                chat = self.chat_key(json.loads(body))
            except (ValueError, AttributeError, TypeError):
                chat = "none"
            self.submit_key(key, chat)
        if rows:
            log.warning("%s: %d events received before the restart are handled now", self.inbox_channel, len(rows))
        return len(rows)

    def _process_key(self, key: str) -> None:
        with self.app.db.session() as s:
            row = s.get(WebhookInbox, (self.inbox_channel, key))
            if row is None or row.done_at is not None:
                return
            row.attempts += 1
            s.add(row)
            body = row.body
        try:
            self.process(json.loads(body))
        except Exception:
            log.exception("%s event %s failed", self.inbox_channel, key)
        with self.app.db.session() as s:
            row = s.get(WebhookInbox, (self.inbox_channel, key))
            if row is not None:
                # Only the key is kept (to recognise a redelivery), not the resident's message.
                row.done_at, row.body = self.app.clock.now(), ""
                s.add(row)
