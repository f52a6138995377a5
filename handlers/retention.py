"""Keeping data only as long as /privacy says: a daily purge at 03:00 local time.

- abandoned conversation state (a form left half-filled) after `retention.conversation_days`;
- processed-update marks after 7 days (platforms stop redelivering within a day), and the
  replies stored with them (for a retry after a lost answer) after one day;
- quarantined messages (handling failed repeatedly) after `retention.conversation_days`;
- delivered or failed outbox rows (they hold message texts) after `retention.conversation_days`;
- web chat sessions unused for bot.web_session.IDLE_DAYS.
Residents' reports keep their own retention (their contact details are erased by /xoadulieu).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import Session, delete, update

from bot.clock import TZ, to_local
from bot.models import Conversation, OutboxMessage, ProcessedUpdate
from bot.router import Router
from scheduler import core as sched

KIND = "retention.purge"


def next_run(now: datetime) -> datetime:
    day = to_local(now).date() + timedelta(days=1)
    return datetime.combine(day, time(3, 0), tzinfo=TZ)


def plan(app, session: Session) -> None:
    at = next_run(app.clock.now())
    sched.schedule(session, f"retention:{at.date().isoformat()}", KIND, at)


def purge(app, session: Session, now: datetime) -> dict[str, int]:
    days = app.profile.retention.conversation_days
    cutoff = now - timedelta(days=days)
    n_conv = session.exec(delete(Conversation).where(Conversation.updated_at < cutoff)).rowcount
    n_upd = session.exec(delete(ProcessedUpdate).where(ProcessedUpdate.created_at < now - timedelta(days=7))).rowcount
    n_rep = session.exec(update(ProcessedUpdate).where(ProcessedUpdate.created_at < now - timedelta(days=1),
                                                       ProcessedUpdate.replies.is_not(None))
                         .values(replies=None)).rowcount
    from handlers import safety
    n_quar = safety.purge(session, now, days)
    n_out = session.exec(delete(OutboxMessage).where(OutboxMessage.status.in_(("sent", "failed", "blocked", "cancelled")),
                                                     OutboxMessage.created_at < cutoff)).rowcount
    from bot import web_session
    n_web = web_session.purge(session, now)
    from bot.channels.zalo_oa_models import WebhookInbox, ZaloOaFallback
    # Webhook events only need their key while the platform may redeliver them.
    n_inbox = session.exec(delete(WebhookInbox).where(WebhookInbox.received_at < now - timedelta(days=7))).rowcount
    session.exec(delete(ZaloOaFallback).where(ZaloOaFallback.at < cutoff))
    return {"conversations": n_conv, "updates": n_upd, "outbox": n_out, "replies": n_rep, "quarantine": n_quar,
            "web_sessions": n_web, "webhook_inbox": n_inbox}


@sched.task_kind(KIND)
def _run(app, session: Session, task, now: datetime) -> None:
    purge(app, session, now)
    at = next_run(now)
    sched.schedule(session, f"retention:{at.date().isoformat()}", KIND, at)


def _startup(app) -> None:
    with app.db.session() as s:
        plan(app, s)


def register(r: Router) -> None:
    r.on_startup(_startup)
