"""The conversation engine: one Incoming in, a list of Replies out, one transaction each.

Everything a message changes (dialogue state, a saved report, outbox rows, the processed-update
mark) commits together, so a crash or a restart never leaves half a step behind.
"""
from __future__ import annotations

import logging
import threading
import unicodedata
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot import texts
from bot.context import Context
from bot.core import Incoming, Reply
from bot.models import Conversation, Person, ProcessedUpdate
from nlu.normalize import fold

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


def _is_binary(text: str) -> bool:
    # Control characters other than whitespace (NUL, escape sequences, replacement chars from
    # undecodable bytes) mean somebody sent a file as text, not a message.
    bad = sum(1 for ch in text if (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t") or ch == "\ufffd")
    return bad > 0


class Engine:
    def __init__(self, app: "App"):
        self.app = app
        self._locks: dict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def _lock(self, msg: Incoming) -> threading.Lock:
        with self._locks_guard:
            return self._locks[(msg.channel, msg.chat_id)]

    def handle(self, msg: Incoming) -> list[Reply]:
        problem = self._check_input(msg)
        if problem:
            return [Reply(problem)]
        with self._lock(msg):
            try:
                replies = self._handle_in_tx(msg)
            except Exception:
                log.exception("handling a message from %s:%s failed", msg.channel, msg.chat_id)
                return [Reply(texts.INTERNAL_ERROR)]
        if replies is None:  # duplicate delivery
            return []
        self.app.wake_outbox()
        return replies

    # ---------------------------------------------------------------------------------------
    def _check_input(self, msg: Incoming) -> str | None:
        if msg.text is not None:
            msg.text = unicodedata.normalize("NFC", msg.text)
            if _is_binary(msg.text):
                return texts.BINARY_INPUT
            if len(msg.text) > self.app.settings.max_text_len:
                return texts.TOO_LONG.format(limit=self.app.settings.max_text_len)
        if not (msg.text and msg.text.strip()) and not msg.button and not msg.photos \
                and not msg.files and msg.location is None:
            return texts.EMPTY_INPUT
        return None

    def _handle_in_tx(self, msg: Incoming) -> list[Reply] | None:
        with Session(self.app.db.engine, expire_on_commit=False) as s:
            if msg.update_id:
                s.add(ProcessedUpdate(channel=msg.channel, update_key=str(msg.update_id),
                                      created_at=self.app.clock.now()))
                try:
                    s.flush()
                except IntegrityError:
                    s.rollback()
                    return None
            person = self._person(s, msg)
            conv = self._conversation(s, msg, person)
            ctx = Context(self.app, s, msg, person, conv)
            self._map_text_to_button(ctx)
            self._dispatch(ctx)
            conv.last_buttons = [{"text": b.text, "data": b.data} for r in ctx.replies for b in r.buttons]
            conv.updated_at = self.app.clock.now()
            s.add(conv)
            s.commit()
            return ctx.replies

    def _person(self, s: Session, msg: Incoming) -> Person:
        p = s.exec(select(Person).where(Person.channel == msg.channel,
                                        Person.channel_user_id == msg.user_id)).first()
        now = self.app.clock.now()
        if p is None:
            p = Person(channel=msg.channel, channel_user_id=msg.user_id, chat_id=msg.chat_id,
                       display_name=msg.user_name, created_at=now, last_seen_at=now)
            s.add(p)
            s.flush()
        else:
            p.last_seen_at = now
            if not msg.is_group:
                p.chat_id = msg.chat_id
            if msg.user_name:
                p.display_name = msg.user_name
            s.add(p)
        return p

    def _conversation(self, s: Session, msg: Incoming, person: Person) -> Conversation:
        q = select(Conversation).where(Conversation.channel == msg.channel, Conversation.chat_id == msg.chat_id)
        if s.bind.dialect.name == "postgresql":
            q = q.with_for_update()  # serialise two workers handling the same chat
        c = s.exec(q).first()
        if c is None:
            c = Conversation(channel=msg.channel, chat_id=msg.chat_id, person_id=person.id, data={},
                             last_buttons=[], updated_at=self.app.clock.now())
            s.add(c)
            s.flush()
        return c

    def _map_text_to_button(self, ctx: Context) -> None:
        """Channels without inline keyboards (Zalo, console) show buttons as a numbered list;
        "2" or the option's words count as pressing it."""
        msg = ctx.msg
        if msg.button or not msg.text or msg.command or not ctx.conv.last_buttons:
            return
        t = fold(msg.text).strip(" .)")
        options = ctx.conv.last_buttons
        if t.isdigit() and 1 <= int(t) <= len(options):
            msg.button = options[int(t) - 1]["data"]
        else:
            for b in options:
                if fold(b["text"]) == t:
                    msg.button = b["data"]
                    break

    def _dispatch(self, ctx: Context) -> None:
        router, msg, conv = self.app.router, ctx.msg, ctx.conv
        if msg.button:
            prefix, _, payload = msg.button.partition(":")
            if conv.flow and conv.flow == prefix:
                router.flows[prefix].handle(ctx)
            elif prefix in router.callbacks:
                router.callbacks[prefix](ctx, payload)
            elif prefix in router.flows:
                ctx.reply(texts.STALE_BUTTON)
            else:
                ctx.reply(texts.STALE_BUTTON)
            return
        cmd = msg.command
        if cmd:
            name, args = cmd
            if name in ("huy", "cancel"):
                if conv.flow:
                    title = getattr(router.flows.get(conv.flow), "title", "") or "biểu mẫu"
                    ctx.end_flow()
                    ctx.reply(texts.FLOW_CANCELLED.format(title=title))
                else:
                    ctx.reply(texts.NOTHING_TO_CANCEL)
                return
            spec = router.commands.get(name)
            if spec is None:
                ctx.reply(texts.UNKNOWN_COMMAND.format(cmd=name[:30]))
                return
            if spec.roles and not ctx.require(*spec.roles):
                return
            if conv.flow and not spec.keeps_flow:
                title = getattr(router.flows.get(conv.flow), "title", "") or "biểu mẫu"
                ctx.end_flow()
                ctx.reply(texts.FLOW_LEFT.format(title=title))
            spec.fn(ctx, args)
            return
        if conv.flow:
            flow = router.flows.get(conv.flow)
            if flow is None:
                ctx.end_flow()
            else:
                flow.handle(ctx)
                return
        if (msg.photos or msg.location or msg.files) and not (msg.text and msg.text.strip()):
            for fn in router.media_handlers:
                if fn(ctx):
                    return
            ctx.reply(texts.MEDIA_WITHOUT_CONTEXT)
            return
        for fn in router.text_handlers:
            if fn(ctx):
                return
        self._understand(ctx)

    def _understand(self, ctx: Context) -> None:
        u = self.app.nlu.understand(ctx.msg.text or "")
        ctx.understanding = u  # type: ignore[attr-defined]
        handler = self.app.router.kind_handlers.get(u.kind) or self.app.router.kind_handlers.get("fallback")
        if handler is None:
            ctx.reply(texts.FALLBACK)
        else:
            handler(ctx)
