"""What /privacy promises about keeping data is what the daily purge does."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.models import Conversation, OutboxMessage, ProcessedUpdate
from scheduler.core import run_due
from tests.conftest import Chat


def test_daily_purge_removes_old_state_and_keeps_recent(app, clock):
    old = Chat(app, "old")
    old.say("/hoicanbo", update_id="u-old")  # a form abandoned half-filled
    old.say("câu hỏi bỏ dở")
    clock.advance(days=25)
    recent = Chat(app, "recent")
    recent.say("/hoicanbo", update_id="u-new")
    with app.db.session() as s:
        assert len(s.exec(select(Conversation)).all()) == 2
    clock.advance(days=6)  # the old chat is now 31 days quiet; the recent one 6
    assert run_due(app, prefix="retention:") >= 1
    with app.db.session() as s:
        chats = {c.chat_id for c in s.exec(select(Conversation))}
        updates = {u.update_key for u in s.exec(select(ProcessedUpdate))}
        pending = s.exec(select(OutboxMessage)).all()
    assert chats == {"recent"}
    assert updates == {"u-new"} or updates == set()  # marks older than 7 days are gone
    assert "u-old" not in updates
    assert pending == [] or all(o.status == "pending" for o in pending)


def test_purge_reschedules_itself_once_per_day(app, clock):
    from bot.models import ScheduledTask
    for _ in range(3):
        clock.advance(days=1)
        run_due(app, prefix="retention:")
    with app.db.session() as s:
        keys = sorted(t.key for t in s.exec(select(ScheduledTask).where(ScheduledTask.key.startswith("retention:"))))
        done = [t for t in s.exec(select(ScheduledTask).where(ScheduledTask.key.startswith("retention:"),
                                                              ScheduledTask.status == "done"))]
    assert len(done) == 3 and len(keys) == 4  # three runs and tomorrow's planned
    assert len(set(keys)) == len(keys)


def test_after_purge_an_old_chat_starts_fresh(app, clock):
    c = Chat(app, "x")
    c.say("/hoicanbo")
    clock.advance(days=31)
    run_due(app, prefix="retention:")
    assert "Xin chào" in c.text("/start")
    assert "Tách hộ" in c.text("thủ tục tách hộ cần gì")
