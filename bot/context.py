"""What a handler gets: the message, the person, the conversation state, and ways to answer."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from bot import roles as R
from bot.core import Button, Incoming, Reply
from bot.models import AuditEvent, Conversation, Person
from bot.outbox import enqueue

if TYPE_CHECKING:
    from bot.app import App


class Context:
    def __init__(self, app: "App", session: Session, msg: Incoming, person: Person, conv: Conversation):
        self.app = app
        self.session = session
        self.msg = msg
        self.person = person
        self.conv = conv
        self.replies: list[Reply] = []
        self._roles: set[str] | None = None
        self._understanding = None
        self.erased = False  # /xoadulieu confirmed: the engine forgets this chat after the handler
        self.keep_buttons: list[dict] | None = None  # typed options to keep instead of this reply's buttons

    # --- understanding ---------------------------------------------------------------------
    @property
    def understanding(self):
        """What the message is (nlu.understand.Understanding). The engine usually computes it
        before opening the write transaction (it reads only the search index); otherwise here."""
        if self._understanding is None:
            self._understanding = self.app.nlu.understand(self.msg.text or "")
        return self._understanding

    @understanding.setter
    def understanding(self, value) -> None:
        self._understanding = value

    # --- answering -------------------------------------------------------------------------
    def reply(self, text: str, buttons: list[Button] | list[tuple[str, str]] | None = None, **kw) -> Reply:
        btns = [b if isinstance(b, Button) else Button(*b) for b in (buttons or [])]
        r = Reply(text=text, buttons=btns, **kw)
        self.replies.append(r)
        return r

    def notify(self, channel: str, chat_id: str, reply: Reply | str, dedupe_key: str | None = None,
               kind: str = "notice", not_before: datetime | None = None) -> None:
        """Send to another chat (a unit's staff chat, a resident) through the persistent outbox,
        in this message's transaction: it goes out only if the handling commits."""
        if isinstance(reply, str):
            reply = Reply(reply)
        enqueue(self.session, channel, chat_id, reply, now=self.now, dedupe_key=dedupe_key,
                kind=kind, not_before=not_before)

    def pressed(self, kind):
        """The typed button (bot.forms.ButtonData subclass) this message pressed, or None."""
        return kind.unpack(self.msg.button)

    # --- time ------------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self.app.clock.now()

    # --- roles -----------------------------------------------------------------------------
    @property
    def roles(self) -> set[str]:
        if self._roles is None:
            self._roles = R.roles_of(self.session, self.person.id)
        return self._roles

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def require(self, *roles: str) -> bool:
        """True when allowed; otherwise answers politely and returns False."""
        if self.has_role(*roles):
            return True
        labels = " hoặc ".join(R.ROLE_LABELS.get(r, r) for r in roles)
        self.reply(f"Chức năng này dành cho {labels}. Nếu bạn được giao việc này, "
                   "hãy nhập mã mời bằng lệnh /nhapma MÃ.")
        return False

    # --- flow state ------------------------------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        return self.conv.data

    def _aside(self) -> dict[str, Any]:
        """A form set aside (bot/forms.py) outlives the flows this person opens and closes meanwhile."""
        parked = (self.conv.data or {}).get("_parked")
        keep = isinstance(parked, dict) and parked.get("owner") in (None, self.person.id)
        return {"_parked": parked} if keep else {}

    def start_flow(self, name: str, step: str = "start", data: dict[str, Any] | None = None) -> None:
        self.conv.flow, self.conv.step, self.conv.data = name, step, {**self._aside(), **dict(data or {})}
        self.conv.flow_owner_id = self.person.id  # in a group, the form is this person's alone

    def goto(self, step: str) -> None:
        self.conv.step = step

    def end_flow(self) -> None:
        self.conv.flow, self.conv.step, self.conv.data = None, None, self._aside()
        # the owner of a form set aside stays on the row, so erasing that person finds it
        self.conv.flow_owner_id = self.conv.data["_parked"].get("owner") if self.conv.data else None

    def run_flow(self, name: str, step: str = "start", data: dict[str, Any] | None = None) -> None:
        """Start a flow and run its first step at once (the step usually asks a question)."""
        self.start_flow(name, step, data)
        self.app.router.flows[name].handle(self)

    # --- audit -----------------------------------------------------------------------------
    def audit(self, action: str, object_type: str, object_id: Any, **detail: Any) -> None:
        self.session.add(AuditEvent(at=self.now, actor_id=self.person.id, action=action,
                                    object_type=object_type, object_id=str(object_id), detail=detail))
