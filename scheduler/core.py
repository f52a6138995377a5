"""Dated work that must happen exactly once, even across restarts and downtime.

Each reminder or escalation is a `ScheduledTask` row with a unique key, written in the
transaction of the event that causes it. APScheduler (with its job store in the project's
database, timezone Asia/Ho_Chi_Minh) runs one persistent `tick` job every minute; `run_due`
does the work of every task whose time has come, each in its own transaction, and marks it
done there. A task's messages go through the outbox with the task key as dedupe key, so a
crash between the two cannot send anything twice.

After downtime, a task that is late by more than its kind's `grace` is dropped (marked
`dropped`) when its kind says so, otherwise caught up once: never a flood.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from sqlmodel import Session, select

from bot.models import ScheduledTask

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


@dataclass
class TaskKind:
    name: str
    run: Callable[["App", Session, ScheduledTask, datetime], None]
    grace: timedelta | None = None  # None: always catch up; else drop when later than this
    drop_when_late: bool = False


KINDS: dict[str, TaskKind] = {}


def task_kind(name: str, grace: timedelta | None = None, drop_when_late: bool = False):
    """Register the function that does one kind of task: fn(app, session, task, now)."""
    def deco(fn):
        KINDS[name] = TaskKind(name, fn, grace, drop_when_late)
        return fn
    return deco


def schedule(session: Session, key: str, kind: str, fire_at: datetime, payload: dict | None = None,
             replace: bool = False) -> bool:
    """Idempotent by key: scheduling the same key again changes nothing (unless replace=True and
    the task has not run yet). Returns True when a task was created or moved."""
    existing = session.get(ScheduledTask, key)
    if existing is not None:
        if replace and existing.status == "pending":
            existing.fire_at, existing.payload = fire_at, dict(payload or {})
            session.add(existing)
            return True
        return False
    # Several workers schedule the same task at start-up: insert-or-nothing, never a key clash.
    from bot.db import insert_ignore
    from bot.models import utcnow
    created = insert_ignore(session, ScheduledTask.__table__,
                            dict(key=key, kind=kind, fire_at=fire_at, payload=dict(payload or {}),
                                 status="pending", done_at=None, created_at=utcnow()), ["key"],
                            returning=True)
    return created


def cancel(session: Session, key: str | None = None, prefix: str | None = None) -> int:
    q = select(ScheduledTask).where(ScheduledTask.status == "pending")
    if key is not None:
        q = q.where(ScheduledTask.key == key)
    elif prefix is not None:
        q = q.where(ScheduledTask.key.startswith(prefix))
    else:
        raise ValueError("key or prefix")
    n = 0
    for t in session.exec(q):
        t.status = "cancelled"
        session.add(t)
        n += 1
    return n


def run_due(app: "App", now: datetime | None = None, limit: int = 500, prefix: str | None = None) -> int:
    """Do every due task once (only keys starting with `prefix`, when given: a feature's tests
    look at their own tasks while others are planned too). Returns how many ran (not dropped)."""
    now = now or app.clock.now()
    with app.db.session() as s:
        q = select(ScheduledTask.key).where(ScheduledTask.status == "pending", ScheduledTask.fire_at <= now)
        if prefix:
            q = q.where(ScheduledTask.key.startswith(prefix))
        keys = list(s.exec(q.order_by(ScheduledTask.fire_at, ScheduledTask.key).limit(limit)))
    ran = 0
    for key in keys:
        try:
            with app.db.session() as s:
                q = select(ScheduledTask).where(ScheduledTask.key == key)
                if s.bind.dialect.name == "postgresql":
                    q = q.with_for_update(skip_locked=True)  # two workers never run one task
                task = s.exec(q).first()
                if task is None or task.status != "pending":
                    continue
                kind = KINDS.get(task.kind)
                if kind is None:
                    log.error("no handler for scheduled task kind %s", task.kind)
                    continue
                late = now - task.fire_at
                if kind.drop_when_late and kind.grace is not None and late > kind.grace:
                    task.status, task.done_at = "dropped", now
                    s.add(task)
                    continue
                kind.run(app, s, task, now)
                task.status, task.done_at = "done", now
                s.add(task)
                ran += 1
        except Exception:
            log.exception("scheduled task %s failed; it stays pending and is retried", key)
    if ran:
        app.wake_outbox()
    return ran


# --- APScheduler: the persistent heartbeat ------------------------------------------------------
_APP: "App | None" = None


def tick() -> None:
    """APScheduler job (module-level so the persistent job store can reference it by name)."""
    if _APP is not None:
        run_due(_APP)


class Heartbeat:
    JOB_ID = "ward-bot-tick"

    def __init__(self, app: "App", interval_seconds: int = 60):
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        from bot.config import LOCAL_TZ
        from bot.db import SCHEDULER_TABLE
        self.app = app
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=app.db.engine, tablename=SCHEDULER_TABLE)},
            timezone=LOCAL_TZ, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        self.interval = interval_seconds

    def start(self) -> None:
        global _APP
        _APP = self.app
        self.scheduler.start()
        self.scheduler.add_job("scheduler.core:tick", "interval", seconds=self.interval, id=self.JOB_ID,
                               replace_existing=True)
        tick()  # catch up at once after downtime rather than a minute later

    def stop(self) -> None:
        global _APP
        self.scheduler.shutdown(wait=False)
        _APP = None


def upcoming(session: Session, prefix: str | None = None, limit: int = 1000) -> list[ScheduledTask]:
    q = select(ScheduledTask).where(ScheduledTask.status == "pending")
    if prefix:
        q = q.where(ScheduledTask.key.startswith(prefix))
    return list(session.exec(q.order_by(ScheduledTask.fire_at).limit(limit)))
