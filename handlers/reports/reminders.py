"""Scheduled work of a report: remind the unit, escalate to the ward leadership, follow up daily
until handled, close after the resident had time to rate. Each task sends at most its own message
(outbox dedupe key = task key), so a retry after a crash or a catch-up after downtime sends once."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from bot.clock import fmt_local
from bot.core import Reply
from bot.models import ScheduledTask
from bot.outbox import enqueue
from handlers.reports import service as S
from handlers.reports.models import CLOSED, NEW, OPEN_STATUSES, REJECTED, RESOLVED, Report
from scheduler import core as sched

FOLLOWUP_EVERY = timedelta(hours=24)
MAX_FOLLOWUPS = 14


def _report(session: Session, task: ScheduledTask) -> Report | None:
    return session.get(Report, int(task.payload.get("report_id", 0)))


def _to_unit(app, session, r: Report, now: datetime, key: str, heading: str) -> None:
    chat = S.unit_chat(app, r.unit_id)
    if chat:
        # Sent late at night only for urgent categories; otherwise held until quiet hours end
        # (also when catching up after downtime at night).
        enqueue(session, chat.channel, chat.chat_id, S.card(app, r, heading), now=now, dedupe_key=key,
                kind="reminder", not_before=S.send_time(app, r, now))


@sched.task_kind("report.remind")
def remind(app, session: Session, task: ScheduledTask, now: datetime) -> None:
    r = _report(session, task)
    if r is None or r.status != NEW:
        return
    _to_unit(app, session, r, now, task.key,
             f"Nhắc việc: quá {S.fmt_hours(r.sla_hours)} chưa tiếp nhận phản ánh")
    S.add_event(session, r, now, "reminded", actor_label=S.SYSTEM, note="nhắc đơn vị tiếp nhận")


@sched.task_kind("report.escalate")
def escalate(app, session: Session, task: ScheduledTask, now: datetime) -> None:
    r = _report(session, task)
    if r is None or r.status not in OPEN_STATUSES:
        return
    lead = app.profile.leadership_chat or app.profile.staff_chat
    if lead:
        text = (f"Phản ánh quá hạn {r.code} - {S.category_title(app, r.category)}\n"
                f"Đơn vị: {S.unit_name(app, r.unit_id)}; trạng thái: {S.STATUS_LABELS[r.status]}\n"
                f"Gửi lúc {fmt_local(r.created_at)}, hạn xử lý {fmt_local(r.resolve_by)}\n"
                f"Địa điểm: {S.place_text(app, r)}\nNội dung: {r.description[:300]}")
        enqueue(session, lead.channel, lead.chat_id, Reply(text), now=now, dedupe_key=task.key,
                kind="reminder", not_before=S.send_time(app, r, now))
    _to_unit(app, session, r, now, task.key + ":unit", "Quá hạn, đã báo lãnh đạo phường:")
    r.escalated_at = r.escalated_at or now
    session.add(r)
    S.add_event(session, r, now, "escalated", actor_label=S.SYSTEM, note="báo lãnh đạo phường: quá hạn xử lý")
    _next_followup(app, session, r, now, 1, task.key.removesuffix(":escalate"))


def _next_followup(app, session: Session, r: Report, now: datetime, n: int, base: str) -> None:
    # base: "report:1", or "report:1:r1" after a reopening, so each round's keys are its own
    if n <= MAX_FOLLOWUPS:
        sched.schedule(session, f"{base}:followup:{n}", "report.followup",
                       S.send_time(app, r, now + FOLLOWUP_EVERY), {"report_id": r.id, "n": n})


@sched.task_kind("report.followup")
def followup(app, session: Session, task: ScheduledTask, now: datetime) -> None:
    r = _report(session, task)
    if r is None or r.status not in OPEN_STATUSES:
        return
    _to_unit(app, session, r, now, task.key, "Nhắc lại: phản ánh quá hạn chưa xử lý xong")
    S.add_event(session, r, now, "reminded", actor_label=S.SYSTEM, note="nhắc lại sau khi quá hạn")
    _next_followup(app, session, r, now, int(task.payload.get("n", 1)) + 1, task.key.rsplit(":followup:", 1)[0])


@sched.task_kind("report.autoclose")
def autoclose(app, session: Session, task: ScheduledTask, now: datetime) -> None:
    r = _report(session, task)
    if r is None:
        return
    # Each resident's copy closes on its own (a rating closes one early), so close them one by one.
    for item in S.followers(session, r):
        if item.status in (RESOLVED, REJECTED):
            S.transition(app, session, now, item, CLOSED, None, S.SYSTEM, note="tự đóng sau 7 ngày",
                         cascade=False)
