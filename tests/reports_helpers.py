"""Shared helpers of the reports tests: a tiny fake understander, staff set-up, outbox reading."""
from __future__ import annotations

import re

from sqlmodel import select

from bot import roles as R
from bot.core import Attachment
from bot.models import OutboxMessage
from nlu.normalize import fold
from nlu.understand import Understanding
from tests.conftest import Chat

RULES = [("rac", "rac-thai"), ("karaoke", "tieng-on"), ("den duong", "chieu-sang")]


class FakeNLU:
    """Free text -> complaint with a category by keyword; the rest goes to the real understander."""

    def __init__(self, real):
        self.real = real

    def categorize(self, text):
        f = fold(text)
        return [(cat, 0.9) for kw, cat in RULES if kw in f.split() or kw in f][:1]

    def understand(self, text):
        f = fold(text)
        if "o ga" in f:  # a report the classifier cannot place
            return Understanding("complaint", category=None, confidence=0.2)
        cats = self.categorize(text)
        if cats and len(f.split()) > 3:
            return Understanding("complaint", category=cats[0][0], confidence=cats[0][1])
        return self.real.understand(text)


class StaffChat(Chat):
    """A staff member pressing buttons in the unit's group chat."""

    def __init__(self, app, user_id="staff-1", chat_id="-1001000000001", name="Cán bộ Lan"):
        super().__init__(app, chat_id=chat_id, user_id=user_id, name=name)

    def say(self, text=None, **kw):
        kw.setdefault("is_group", True)
        return super().say(text, **kw)


def make_staff(app, clock, user_id="staff-1", name="Cán bộ Lan", unit=None) -> StaffChat:
    with app.db.session() as s:
        code = R.create_invite(s, R.STAFF, clock.now(), unit_id=unit).code
    Chat(app, chat_id=user_id, user_id=user_id, name=name).say(f"/nhapma {code}")
    return StaffChat(app, user_id=user_id, name=name)


def photo(tmp_path, name="hien-truong.jpg", size=120_000, mime="image/jpeg") -> Attachment:
    p = tmp_path / name
    p.write_bytes(b"\xff\xd8\xff" + b"0" * 100)
    return Attachment(kind="photo", path=str(p), mime=mime, size=size)


def outbox(app, chat_id=None, key_prefix=None) -> list[OutboxMessage]:
    with app.db.session() as s:
        q = select(OutboxMessage).order_by(OutboxMessage.id)
        if chat_id:
            q = q.where(OutboxMessage.chat_id == chat_id)
        rows = list(s.exec(q))
    return [r for r in rows if key_prefix is None or (r.dedupe_key or "").startswith(key_prefix)]


def code_in(text: str) -> str:
    m = re.search(r"PA-\d{4}-\d{6}", text)
    assert m, text
    return m.group(0)


def file_report(chat: Chat, description: str, tmp_path=None, location=None, group="tdp-02",
                phone=None, address=None) -> str:
    """A resident's whole report through the chat form; returns the bot's last answer."""
    out = chat.text(description)
    if "Đúng không" in out:
        chat.press("phananh:catok")
    if tmp_path is not None:
        chat.say(photos=[photo(tmp_path)])
    chat.press("phananh:photodone")
    if location is not None:
        chat.say(location=location)
    else:
        chat.say(address or "12 Lê Lợi")
    chat.press(f"phananh:grp:{group}")
    if phone:
        chat.say(phone)
    else:
        chat.press("phananh:chatonly")
    chat.press("phananh:pub:no")  # the description stays off the public Open311 reads
    return chat.text(button="phananh:send")
