"""The scheduler core: once per key, survives restarts, catch-up or drop after downtime."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.core import Reply
from bot.models import OutboxMessage, ScheduledTask
from bot.outbox import enqueue
from scheduler import core

CALLS: list[str] = []


@core.task_kind("test.ping")
def _ping(app, session, task, now):
    CALLS.append(task.key)
    enqueue(session, "web", "staff", Reply(f"ping {task.key}"), now=now, dedupe_key=task.key)


@core.task_kind("test.fresh", grace=timedelta(hours=1), drop_when_late=True)
def _fresh(app, session, task, now):
    CALLS.append(task.key)


@core.task_kind("test.boom")
def _boom(app, session, task, now):
    raise RuntimeError("bug")


def test_task_runs_once_at_its_time(app, clock):
    CALLS.clear()
    with app.db.session() as s:
        assert core.schedule(s, "t:k1", "test.ping", clock.now() + timedelta(hours=2))
        assert not core.schedule(s, "t:k1", "test.ping", clock.now())  # same key: nothing new
    assert core.run_due(app, prefix="t:") == 0
    clock.advance(hours=2)
    assert core.run_due(app, prefix="t:") == 1 and core.run_due(app, prefix="t:") == 0
    assert CALLS == ["t:k1"]
    with app.db.session() as s:
        assert len(s.exec(select(OutboxMessage)).all()) == 1


def test_restart_and_downtime_catch_up_once_or_drop(make_app, clock):
    CALLS.clear()
    a1 = make_app()
    with a1.db.session() as s:
        core.schedule(s, "t:late-ok", "test.ping", clock.now() + timedelta(minutes=5))
        core.schedule(s, "t:late-drop", "test.fresh", clock.now() + timedelta(minutes=5))
        core.schedule(s, "t:on-time", "test.fresh", clock.now() + timedelta(days=3))
    a1.close()
    clock.advance(days=2)  # the server was down for two days
    a2 = make_app()
    assert core.run_due(a2, prefix="t:") == 1
    with a2.db.session() as s:
        # only this test's tasks: features plan their own (e.g. report reminders) at startup
        st = {t.key: t.status for t in s.exec(select(ScheduledTask).where(
            ScheduledTask.key.in_(["t:late-ok", "t:late-drop", "t:on-time"])))}
    assert st == {"t:late-ok": "done", "t:late-drop": "dropped", "t:on-time": "pending"}
    clock.advance(days=1)
    assert core.run_due(a2, prefix="t:") == 1
    assert CALLS == ["t:late-ok", "t:on-time"]


def test_a_failing_task_stays_pending_and_others_run(app, clock):
    CALLS.clear()
    with app.db.session() as s:
        core.schedule(s, "t:a-boom", "test.boom", clock.now())
        core.schedule(s, "t:b-ok", "test.ping", clock.now())
    assert core.run_due(app, prefix="t:") == 1
    with app.db.session() as s:
        assert s.get(ScheduledTask, "t:a-boom").status == "pending"


def test_cancel_and_replace(app, clock):
    with app.db.session() as s:
        core.schedule(s, "t:r-1", "test.ping", clock.now() + timedelta(days=1))
        core.schedule(s, "t:r-2", "test.ping", clock.now() + timedelta(days=1))
        assert core.schedule(s, "t:r-1", "test.ping", clock.now() + timedelta(days=2), replace=True)
        assert core.cancel(s, prefix="t:r-2") == 1
    clock.advance(days=1, minutes=1)
    assert core.run_due(app, prefix="t:") == 0
    clock.advance(days=1)
    assert core.run_due(app, prefix="t:") == 1


def test_heartbeat_keeps_its_job_in_the_database(app):
    hb = core.Heartbeat(app, interval_seconds=3600)
    hb.start()
    try:
        assert hb.scheduler.get_job(core.Heartbeat.JOB_ID) is not None
    finally:
        hb.stop()
    from sqlalchemy import text
    with app.db.engine.connect() as c:
        assert c.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all() == [core.Heartbeat.JOB_ID]
