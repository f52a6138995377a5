"""Shared setup for the teams' tests: people with roles, made the way the ward makes them."""
from __future__ import annotations

from bot import roles as R
from bot.models import Person
from tests.conftest import Chat


def enrol(app, chat_id: str, role: str, group: str | None = None, name: str | None = None) -> Chat:
    """A person redeems an invite code for `role`, as in real life (/nhapma)."""
    c = Chat(app, chat_id, name=name or f"Người {chat_id}")
    c.say("/start")
    with app.db.session() as s:
        code = R.create_invite(s, role, app.clock.now(), group_code=group).code
    out = c.text(f"/nhapma {code}")
    assert "Chào mừng" in out, out
    return c


def person_id(app, chat: Chat) -> int:
    from sqlmodel import select
    with app.db.session() as s:
        return s.exec(select(Person).where(Person.channel == chat.channel,
                                           Person.channel_user_id == chat.user_id)).one().id
