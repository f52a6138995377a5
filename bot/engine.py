"""The conversation engine: one Incoming in, a list of Replies out, one transaction each.

Everything a message changes (dialogue state, a saved report, outbox rows, the processed-update
mark) commits together, so a crash or a restart never leaves half a step behind.
"""
from __future__ import annotations

import logging
import math
import threading
import unicodedata
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, delete, select

from bot import forms, options, texts
from bot.context import Context
from bot.core import Incoming, Reply
from bot.db import insert_ignore
from bot.ids import parse_int
from bot.models import Conversation, Person, ProcessedUpdate, UpdateAttempt
from bot.people import person_label
from nlu.normalize import fold

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


# After this many failed attempts at one update (an exception, or the process dying mid-way),
# the next delivery is acknowledged without handling: a poison message must not keep coming back.
MAX_ATTEMPTS = 3
MAX_ID_LEN = 64  # chat and user ids: the columns' width
MAX_BUTTON_LEN = 256
MAX_NAME_LEN = 200
# PostgreSQL advisory lock namespace (first key) serialising one group chat across workers: two staff
# pressing one report card's buttons at once, as when the group shared one locked conversation row.
GROUP_LOCK = 0x6772


def _clean(value: str | None, keep_newlines: bool = False) -> str | None:
    """Lone surrogates cannot be encoded for the database, and PostgreSQL refuses NUL: neither
    may reach it. Names and ids also lose other control characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if keep_newlines:  # message text: NUL and other control bytes are refused later as binary
        return "".join(ch for ch in value if not "\ud800" <= ch <= "\udfff")
    return "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cs"))


def _valid_location(loc) -> bool:
    try:
        lat, lon = float(loc.lat), float(loc.lon)
    except (TypeError, ValueError, OverflowError):
        return False
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def _is_binary(text: str) -> bool:
    # Control characters other than whitespace (NUL, escape sequences, replacement chars from
    # undecodable bytes) mean somebody sent a file as text, not a message.
    bad = sum(1 for ch in text if (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t") or ch == "\ufffd")
    return bad > 0


class RetryLane:
    """Updates tried before run alone: while one runs, nothing else of this process is being
    handled. So when the process dies, only the update that killed it has its count raised, and
    an innocent message that happened to be in flight beside a poison one is not quarantined."""

    def __init__(self):
        self._cond = threading.Condition()
        self._active = 0
        self._alone = False

    def enter(self, alone: bool) -> None:
        with self._cond:
            if alone:
                self._cond.wait_for(lambda: not self._alone and self._active == 0)
                self._alone = True
            else:
                self._cond.wait_for(lambda: not self._alone)
                self._active += 1

    def leave(self, alone: bool) -> None:
        with self._cond:
            if alone:
                self._alone = False
            else:
                self._active -= 1
            self._cond.notify_all()


class Engine:
    def __init__(self, app: "App"):
        self.app = app
        self._locks: dict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self._lane = RetryLane()

    def _lock(self, msg: Incoming) -> threading.Lock:
        with self._locks_guard:
            return self._locks[(msg.channel, msg.chat_id)]

    def handle(self, msg: Incoming) -> list[Reply]:
        problem = self._check_input(msg)
        if problem:
            return [Reply(problem)]
        with self._lock(msg):
            alone = False
            try:
                if msg.update_id:
                    stored, tried = self._peek(msg)
                    if stored is not None:  # handled before: the original answer
                        return stored
                    alone = tried > 0
                self._lane.enter(alone)
                try:
                    if msg.update_id:
                        earlier = self._begin_attempt(msg)
                        if earlier is not None:  # handled meanwhile, or quarantined now
                            return earlier
                    # Inside the lane: a message that crashes understanding runs alone too.
                    understanding = self._understand_early(msg)
                    replies = self._handle_in_tx(msg, understanding)
                finally:
                    self._lane.leave(alone)
            except Exception as e:
                log.exception("handling a message from %s:%s failed", msg.channel, msg.chat_id)
                self._note_failure(msg, e)
                return [Reply(texts.INTERNAL_ERROR)]
        self.app.wake_outbox()
        return replies

    # --- attempts, quarantine and stored replies (issue 10, points 1 and 9) -------------------
    def replay(self, channel: str, update_key: str) -> list[Reply] | None:
        """The replies stored with an update handled before (None: not handled, or not kept)."""
        with Session(self.app.db.engine) as s:
            return self._stored_replies(s, Incoming(channel=channel, chat_id="", user_id="", update_id=update_key))

    def _stored_replies(self, s: Session, msg: Incoming) -> list[Reply] | None:
        pu = s.get(ProcessedUpdate, (msg.channel, str(msg.update_id)))
        if pu is None:
            return None
        return [Reply.from_dict(d) for d in (pu.replies or [])]

    def _peek(self, msg: Incoming) -> tuple[list[Reply] | None, int]:
        """(stored replies of an update handled before, how often it was tried and not finished)."""
        with Session(self.app.db.engine) as s:
            stored = self._stored_replies(s, msg)
            if stored is not None:
                return stored, 0
            row = s.get(UpdateAttempt, (msg.channel, str(msg.update_id)))
            return None, row.attempts if row else 0

    def _begin_attempt(self, msg: Incoming) -> list[Reply] | None:
        """Before handling, in its own committed transaction: the replies of an update handled
        before (a retry gets the original answer), or the quarantine answer when the earlier
        attempts all failed; None means: go ahead and handle it."""
        key, now = str(msg.update_id), self.app.clock.now()
        with Session(self.app.db.engine, expire_on_commit=False) as s:
            if s.bind.dialect.name == "postgresql":
                # The count must survive our process dying, not the database server: no need to
                # wait for the disk (a server crash may lose a count, never a message).
                s.exec(text("SET LOCAL synchronous_commit TO OFF"))
            stored = self._stored_replies(s, msg)
            if stored is not None:
                return stored
            where = (UpdateAttempt.channel == msg.channel, UpdateAttempt.update_key == key)
            bumped = s.exec(update(UpdateAttempt).where(*where)
                            .values(attempts=UpdateAttempt.attempts + 1, last_at=now)).rowcount
            if not bumped:
                s.add(UpdateAttempt(channel=msg.channel, update_key=key, chat_id=msg.chat_id,
                                    excerpt=(msg.text or msg.button or "")[:200], attempts=1,
                                    first_at=now, last_at=now))
                try:
                    s.commit()
                    return None
                except IntegrityError:  # another worker counted it at the same moment
                    s.rollback()
                    s.exec(update(UpdateAttempt).where(*where)
                           .values(attempts=UpdateAttempt.attempts + 1, last_at=now))
            row = s.exec(select(UpdateAttempt).where(*where)).one()
            if row.attempts <= MAX_ATTEMPTS:
                s.commit()
                return None
            # Every earlier attempt failed: acknowledge it without handling, keep it for staff.
            replies = [Reply(texts.QUARANTINED)]
            row.quarantined_at = row.quarantined_at or now
            s.add(row)
            s.add(ProcessedUpdate(channel=msg.channel, update_key=key, created_at=now, chat_id=msg.chat_id,
                                  replies=[r.to_dict() for r in replies]))
            try:
                s.commit()
            except IntegrityError:  # handled meanwhile by another worker after all
                s.rollback()
                return self._stored_replies(s, msg) or []
        log.error("update %s:%s from chat %s quarantined after %d failed attempts",
                  msg.channel, key, msg.chat_id, MAX_ATTEMPTS)
        return replies

    def _note_failure(self, msg: Incoming, error: BaseException) -> None:
        if not msg.update_id:
            return
        try:
            with Session(self.app.db.engine) as s:
                s.exec(update(UpdateAttempt).where(UpdateAttempt.channel == msg.channel,
                                                   UpdateAttempt.update_key == str(msg.update_id))
                       .values(last_error=repr(error)[:500]))
                s.commit()
        except Exception:  # the attempt is counted already; the error text is a courtesy
            log.exception("could not record the failure of %s:%s", msg.channel, msg.update_id)

    # ---------------------------------------------------------------------------------------
    def _check_input(self, msg: Incoming) -> str | None:
        ids = (msg.chat_id, msg.user_id)
        for name in ("chat_id", "user_id", "update_id", "button"):
            setattr(msg, name, _clean(getattr(msg, name)))
        if (msg.chat_id, msg.user_id) != ids:
            # an id that loses characters to cleaning would become somebody else's ("ua\x00" is not "ua")
            return texts.BAD_SENDER
        msg.user_name = (_clean(msg.user_name) or "")[:MAX_NAME_LEN] or None
        if not msg.chat_id or len(msg.chat_id) > MAX_ID_LEN or not msg.user_id or len(msg.user_id) > MAX_ID_LEN \
                or len(msg.update_id or "") > 128:
            return texts.BAD_SENDER
        if msg.is_group and msg.user_id == msg.chat_id:
            # No member is named (an adapter fell back to the chat's id): the group itself would
            # become a person, whose /xoadulieu erases the group's chat id and messages.
            return texts.BAD_SENDER
        if msg.button is not None and len(msg.button) > MAX_BUTTON_LEN:
            return texts.STALE_BUTTON
        for att in (*msg.photos, *msg.files):
            att.name = (_clean(att.name) or "")[:MAX_NAME_LEN] or None
        if msg.location is not None and not _valid_location(msg.location):
            return texts.BAD_LOCATION
        if msg.text is not None:
            msg.text = unicodedata.normalize("NFC", _clean(msg.text, keep_newlines=True))
            if _is_binary(msg.text):
                return texts.BINARY_INPUT
            if len(msg.text) > self.app.settings.max_text_len:
                return texts.TOO_LONG.format(limit=self.app.settings.max_text_len)
        if not (msg.text and msg.text.strip()) and not msg.button and not msg.photos \
                and not msg.files and msg.location is None:
            return texts.EMPTY_INPUT
        return None

    def _understand_early(self, msg: Incoming):
        """Understanding reads only the search index, so it runs before the write transaction
        (on SQLite, the database's write lock): messages of different chats are understood in
        parallel and the transaction stays short. Only for plain text with no form running and
        no numbered option it could answer; anything else is understood lazily if at all."""
        if msg.button or msg.command or msg.photos or msg.files or msg.location is not None \
                or not (msg.text and msg.text.strip()):
            return None
        with Session(self.app.db.engine) as s:
            row = s.exec(select(Conversation.flow, Conversation.last_buttons).where(
                Conversation.channel == msg.channel, Conversation.chat_id == msg.chat_id,
                Conversation.member == self._member(msg))).first()
        if row is not None and (row[0] or self._as_button(msg.text, row[1] or [])):
            return None
        return self.app.nlu.understand(msg.text)

    @staticmethod
    def _as_button(text: str, options: list) -> str | None:
        """The button a text answer stands for ("2" or an option's words), if any."""
        if not options:
            return None
        t = fold(text).strip(" .)")
        n = parse_int(t, 1, len(options))
        if n is not None:
            return options[n - 1]["data"]
        for b in options:
            if fold(b["text"]) == t:
                return b["data"]
        return None

    def _handle_in_tx(self, msg: Incoming, understanding=None) -> list[Reply]:
        with Session(self.app.db.engine, expire_on_commit=False) as s:
            pu = None
            if msg.update_id:
                pu = ProcessedUpdate(channel=msg.channel, update_key=str(msg.update_id),
                                     created_at=self.app.clock.now(), chat_id=msg.chat_id)
                s.add(pu)
                try:
                    s.flush()
                except IntegrityError:  # handled meanwhile by another worker: its answer
                    s.rollback()
                    return self._stored_replies(s, msg) or []
            person = self._person(s, msg)
            conv = self._conversation(s, msg, person)
            ctx = Context(self.app, s, msg, person, conv)
            if understanding is not None:
                ctx.understanding = understanding
            self._map_text_to_button(ctx)
            self._dispatch_owned(ctx)
            # State saves itself: a handler edits ctx.state in place, JSON columns do not notice.
            flag_modified(conv, "data")
            if getattr(ctx, "erased", False):
                self._after_erasure(s, msg, conv, pu, ctx.person.id)
            else:
                kept = getattr(ctx, "keep_buttons", None)
                conv.last_buttons = kept if kept is not None else \
                    [{"text": b.text, "data": b.data} for r in ctx.replies for b in r.buttons]
                conv.updated_at = self.app.clock.now()
                s.add(conv)
                if pu is not None:
                    # The answer is kept with the mark: a retry after a lost reply gets it again.
                    pu.replies = [r.to_dict() for r in ctx.replies]
                    s.exec(delete(UpdateAttempt).where(UpdateAttempt.channel == msg.channel,
                                                       UpdateAttempt.update_key == str(msg.update_id)))
            s.commit()
            return ctx.replies

    def _after_erasure(self, s: Session, msg: Incoming, conv: Conversation, pu: ProcessedUpdate | None,
                       person_id: int) -> None:
        """/xoadulieu confirmed: nothing of this chat may stay behind, not even this message's
        own mark and answer. The chat's state goes: a private chat's, or the member's own in a
        group, with their form (open or set aside: it holds what they typed)."""
        s.delete(conv)  # in a group, the person's own row (Conversation.member)
        if pu is not None:  # maybe gone already with the chat's other marks
            s.expunge(pu)
            s.exec(delete(ProcessedUpdate).where(ProcessedUpdate.channel == msg.channel,
                                                 ProcessedUpdate.update_key == str(msg.update_id)))
        s.exec(delete(UpdateAttempt).where(UpdateAttempt.channel == msg.channel,
                                           UpdateAttempt.update_key == str(msg.update_id)))

    def _person(self, s: Session, msg: Incoming) -> Person:
        q = select(Person).where(Person.channel == msg.channel, Person.channel_user_id == msg.user_id)
        p = s.exec(q).first()
        now = self.app.clock.now()
        if p is None:
            # Another worker may be creating this person right now: insert-or-nothing, then read.
            insert_ignore(s, Person.__table__, dict(channel=msg.channel, channel_user_id=msg.user_id,
                                                    chat_id=msg.chat_id, display_name=msg.user_name,
                                                    created_at=now, last_seen_at=now),
                          ["channel", "channel_user_id"])
            p = s.exec(q).one()
        else:
            p.last_seen_at = now
            if not msg.is_group:
                p.chat_id = msg.chat_id
            if msg.user_name:
                p.display_name = msg.user_name
            s.add(p)
        return p

    @staticmethod
    def _member(msg: Incoming) -> str:
        """Whose conversation row within the chat: each member's own in a group, so that two
        members fill forms at the same time; the chat's in a private chat."""
        return msg.user_id if msg.is_group else ""

    def _conversation(self, s: Session, msg: Incoming, person: Person) -> Conversation:
        member = self._member(msg)
        q = select(Conversation).where(Conversation.channel == msg.channel, Conversation.chat_id == msg.chat_id,
                                       Conversation.member == member)
        if s.bind.dialect.name == "postgresql":
            q = q.with_for_update()  # serialise two workers handling the same chat
            if member:  # a group's members have rows of their own: the chat is still one at a time
                s.exec(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:chat))"),
                       params={"ns": GROUP_LOCK, "chat": f"{msg.channel}:{msg.chat_id}"})
        c = s.exec(q).first()
        if c is None:
            insert_ignore(s, Conversation.__table__, dict(channel=msg.channel, chat_id=msg.chat_id, member=member,
                                                          person_id=person.id, data={}, last_buttons=[],
                                                          updated_at=self.app.clock.now()),
                          ["channel", "chat_id", "member"])
            c = s.exec(q).one()
            if member:
                self._adopt_group_form(s, c, person)
        return c

    def _adopt_group_form(self, s: Session, c: Conversation, person: Person) -> None:
        """A form this member opened when a group had one row for everyone moves to their own row."""
        old = s.exec(select(Conversation).where(Conversation.channel == c.channel, Conversation.chat_id == c.chat_id,
                                                Conversation.member == "")).first()
        if old is not None and old.flow_owner_id == person.id:
            c.flow, c.step, c.data, c.flow_owner_id = old.flow, old.step, dict(old.data or {}), old.flow_owner_id
            old.flow, old.step, old.data, old.flow_owner_id = None, None, {}, None
            s.add(old)

    def _map_text_to_button(self, ctx: Context) -> None:
        """A typed "2", "tham gia" or "5 sao" counts as pressing the button it means, on the last
        reply or on a message the bot sent on its own (bot/options.py)."""
        options.map_text(ctx)

    # --- forms belong to whoever started them (issue 10, point 5) -------------------------------
    def _dispatch_owned(self, ctx: Context) -> None:
        """In a group each member has their own conversation row (_member), forms included. A
        button of another member's form, or /huy with nothing of one's own open, names the owner."""
        msg, conv = ctx.msg, ctx.conv
        if msg.is_group and not conv.flow:
            prefix = (msg.button or "").partition(":")[0]
            cancel = bool(msg.command and msg.command[0] in ("huy", "cancel")) and forms.parked(ctx) is None
            if (prefix in self.app.router.flows or cancel) and (other := self._others_form(ctx, prefix)):
                flow = self.app.router.flows.get(other.flow)
                who = self._person_label(ctx.session, other.flow_owner_id)
                if cancel:
                    ctx.reply(texts.CANCEL_OF_OTHER.format(title=getattr(flow, "title", "") or "biểu mẫu", owner=who))
                else:
                    ctx.reply(texts.BUTTON_OF_OTHER.format(owner=who))
                return
        self._dispatch(ctx)

    @staticmethod
    def _others_form(ctx: Context, flow: str) -> Conversation | None:
        """Another member's open form in this group (that flow, if its button was pressed)."""
        q = select(Conversation).where(Conversation.channel == ctx.msg.channel, Conversation.chat_id == ctx.msg.chat_id,
                                       Conversation.id != ctx.conv.id, Conversation.flow.is_not(None),
                                       Conversation.flow_owner_id.is_not(None))
        if flow:
            q = q.where(Conversation.flow == flow)
        return ctx.session.exec(q.order_by(Conversation.updated_at.desc())).first()

    @staticmethod
    def _person_label(s: Session, person_id: int) -> str:
        p = s.get(Person, person_id)
        return (person_label(p) if p and (p.full_name or p.display_name) else "một thành viên khác")[:60]

    def _flow_step(self, ctx: Context, flow) -> None:
        roles = getattr(flow, "roles", ())
        if roles and not ctx.has_role(*roles):
            ctx.end_flow()
            ctx.reply(texts.ROLE_LOST.format(title=flow.title or "biểu mẫu này"))
            return
        flow.handle(ctx)

    def _dispatch(self, ctx: Context) -> None:
        router, msg, conv = self.app.router, ctx.msg, ctx.conv
        if msg.button:
            prefix, _, payload = msg.button.partition(":")
            if conv.flow and conv.flow == prefix:
                self._flow_step(ctx, router.flows[prefix])
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
                    flow = router.flows.get(conv.flow)
                    title = getattr(flow, "title", "") or "biểu mẫu"
                    ctx.end_flow()
                    ctx.reply(forms.spoken(ctx, flow, texts.FLOW_CANCELLED.format(title=title)))
                elif not forms.drop_parked(ctx):  # /huy with a form set aside: that form goes
                    ctx.reply(texts.NOTHING_TO_CANCEL)
                return
            spec = router.commands.get(name)
            if spec is None:
                ctx.reply(texts.UNKNOWN_COMMAND.format(cmd=name[:30]))
                return
            if spec.roles and not ctx.require(*spec.roles):
                return
            if conv.flow and not spec.keeps_flow:
                flow = router.flows.get(conv.flow)
                title = getattr(flow, "title", "") or "biểu mẫu"
                if isinstance(flow, forms.Form):  # set aside: "tiếp tục" brings it back
                    forms.park(ctx)
                    ctx.reply(forms.spoken(ctx, flow, texts.FORM_SET_ASIDE.format(title=title)))
                else:
                    ctx.end_flow()
                    ctx.reply(texts.FLOW_LEFT.format(title=title))
            spec.fn(ctx, args)
            return
        if conv.flow:
            flow = router.flows.get(conv.flow)
            if flow is None:
                ctx.end_flow()
            else:
                self._flow_step(ctx, flow)
                return
        if (msg.photos or msg.location or msg.files) and not (msg.text and msg.text.strip()):
            for fn in router.media_handlers:
                if fn(ctx):
                    return
            ctx.reply(texts.MEDIA_WITHOUT_CONTEXT)
            return
        if forms.take_up_typed(ctx):
            return
        for fn in router.text_handlers:
            if fn(ctx):
                return
        self._understand(ctx)

    def answer_freely(self, ctx: Context) -> None:
        """Answer the message as if no form were open (a question asked mid-form)."""
        self._understand(ctx)

    def _understand(self, ctx: Context) -> None:
        u = ctx.understanding  # computed before the write transaction, or now
        for refine in self.app.router.understanding_filters:
            u = refine(ctx, u)
        ctx.understanding = u
        handler = self.app.router.kind_handlers.get(u.kind) or self.app.router.kind_handlers.get("fallback")
        if handler is None:
            ctx.reply(texts.FALLBACK)
        else:
            handler(ctx)
