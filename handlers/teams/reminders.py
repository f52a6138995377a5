"""Deadline reminders for the quarterly reports, on the persistent scheduler.

A year's reminders are planned as ScheduledTask rows with stable keys ("teams:2026-q1:team:d7"),
so planning again (every start, and by a yearly planning task) changes nothing. Whether a team
has submitted is checked when the reminder fires, not when it is planned. After downtime, of
several missed reminders of one deadline only the latest is sent (the others are superseded);
with missed_reminders: drop, a reminder later than GRACE is not sent at all.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, select

from bot.models import ScheduledTask
from bot.outbox import enqueue
from bot.core import Reply
from handlers.teams import catalog as C
from handlers.teams import service as S
from scheduler import core

log = logging.getLogger(__name__)
KIND, PLAN_KIND = "teams.reminder", "teams.plan"
GRACE = timedelta(hours=2)


@dataclass
class Planned:
    key: str
    fire_at: datetime  # aware, local
    payload: dict

    @property
    def series(self) -> str:
        return self.payload["series"]


def plan(profile, year: int) -> list[Planned]:
    """Every reminder of a year, in time order. Pure: the CLI prints it, startup schedules it."""
    tr = profile.team_reports
    out: list[Planned] = []

    def series(prefix: str, target: str, deadline: date, quarter: int) -> None:
        base = {"year": year, "quarter": quarter, "target": target, "deadline": deadline.isoformat(),
                "series": prefix}
        for d in sorted(set(tr.reminder_days_before), reverse=True):
            if d <= 0:
                continue
            out.append(Planned(f"{prefix}d{d}", C.local_at(deadline - timedelta(days=d), tr.reminder_time),
                               {**base, "stage": "due", "days_before": d}))
        out.append(Planned(f"{prefix}late", C.local_at(deadline, tr.reminder_time), {**base, "stage": "late"}))

    for q in (1, 2, 3, 4):
        series(f"teams:{year}-q{q}:team:", "team", C.deadline_of(year, q, tr.deadline_day), q)
        series(f"teams:{year}-q{q}:ward:", "ward", C.deadline_of(year, q, tr.ward_deadline_day), q)
    mm, dd = (int(x) for x in tr.annual_summary.split("-"))
    series(f"teams:{year}-annual:", "ward", date(year, mm, dd), 0)
    out.sort(key=lambda p: (p.fire_at, p.key))
    return out


def plan_year(app, session: Session, year: int, now: datetime) -> int:
    """Schedule the year's reminders (idempotent), move pending ones when the profile's dates
    changed, cancel pending ones the profile no longer asks for. Never plans into the past: a bot
    installed in June does not send March's reminders (tasks planned earlier and missed during
    downtime exist already, and are caught up)."""
    wanted = plan(app.profile, year)
    keys = {p.key for p in wanted}
    n = 0
    for p in wanted:
        exists = session.get(ScheduledTask, p.key) is not None
        if exists or p.fire_at > now:
            n += core.schedule(session, p.key, KIND, p.fire_at, p.payload, replace=exists)
    for t in core.upcoming(session, prefix=f"teams:{year}-"):
        if t.key not in keys:
            core.cancel(session, key=t.key)
    core.schedule(session, f"teams:plan:{year + 1}", PLAN_KIND, C.local_at(date(year + 1, 1, 1), "00:05"),
                  {"year": year + 1})
    return n


def on_startup(app) -> None:
    try:
        with app.db.session() as s:
            plan_year(app, s, C.today(app.clock.now()).year, app.clock.now())
    except Exception:  # a planning problem must not keep the bot from starting
        log.exception("planning the teams' report reminders failed")


@core.task_kind(PLAN_KIND)
def _run_plan(app, session: Session, task: ScheduledTask, now: datetime) -> None:
    plan_year(app, session, int(task.payload["year"]), now)


# --- what is sent ------------------------------------------------------------------------------
def _what(payload: dict) -> str:
    if payload["quarter"] == 0:
        return f"báo cáo tổng kết năm {payload['year']} của phường"
    label = C.quarter_label(payload["year"], payload["quarter"])
    return f"báo cáo {label} của tổ" if payload["target"] == "team" else f"báo cáo {label} của phường gửi Sở KH&CN"


def message(payload: dict, today: date, late_teams: list[str] | None = None, group_name: str = "") -> str:
    deadline = date.fromisoformat(payload["deadline"])
    what = _what(payload)
    if payload["target"] == "team" and payload["stage"] == "due":
        left = C.days_between(today, deadline)
        return (f"Nhắc {group_name}: {what} cần nộp trước 0 giờ ngày {deadline:%d/%m/%Y} (còn {left} ngày). "
                "Tổ trưởng gõ /baocaoto để xem lại và bấm \"Nộp báo cáo\"; các thành viên nhớ ghi nhận đủ các "
                "buổi hỗ trợ bằng /ghinhan.")
    if payload["target"] == "team":
        return (f"{group_name} chưa nộp {what} (hạn 0 giờ ngày {deadline:%d/%m/%Y}). Đề nghị tổ trưởng gõ "
                "/baocaoto và bấm \"Nộp báo cáo\" ngay hôm nay.")
    if payload["stage"] == "due":
        left = C.days_between(today, deadline)
        done = "" if late_teams is None else (
            f" Các tổ chưa nộp: {', '.join(late_teams)}." if late_teams else " Tất cả các tổ đã nộp.")
        cmd = f"/danop nam {payload['year']}" if payload["quarter"] == 0 else \
            f"/danop {payload['quarter']}/{payload['year']}"
        return (f"Nhắc cán bộ phường: {what} cần gửi trước 0 giờ ngày {deadline:%d/%m/%Y} (còn {left} ngày).{done} "
                f"Xem báo cáo: /baocaophuong; đã gửi thì gõ {cmd}.")
    cmd = f"/danop nam {payload['year']}" if payload["quarter"] == 0 else f"/danop {payload['quarter']}/{payload['year']}"
    return f"Quá hạn: {what} chưa được đánh dấu đã gửi (hạn 0 giờ ngày {deadline:%d/%m/%Y}). Đã gửi thì gõ {cmd}."


def late_list_message(payload: dict, late: list[str]) -> str:
    label = C.quarter_label(payload["year"], payload["quarter"])
    if not late:
        return f"Tất cả các tổ công nghệ số cộng đồng đã nộp báo cáo {label}. Xem báo cáo phường: /baocaophuong"
    return (f"Các tổ chưa nộp báo cáo {label} (hạn 0 giờ ngày {date.fromisoformat(payload['deadline']):%d/%m/%Y}): "
            f"{', '.join(late)}. Các tổ đã được nhắc lần cuối. Xem báo cáo phường: /baocaophuong")


def _late_teams(app, session: Session, payload: dict) -> list[tuple[str, str]]:
    return [(g.code, g.name) for g in app.profile.residential_groups
            if S.submission(session, g.code, payload["year"], payload["quarter"]) is None]


@core.task_kind(KIND)
def _run_reminder(app, session: Session, task: ScheduledTask, now: datetime) -> None:
    p = dict(task.payload)
    outcome = _send(app, session, task, p, now)
    task.payload = {**p, "outcome": outcome}


def _send(app, session: Session, task: ScheduledTask, p: dict, now: datetime) -> str:
    if app.profile.team_reports.missed_reminders == "drop" and now - task.fire_at > GRACE:
        return "dropped-late"
    later = session.exec(select(ScheduledTask.key).where(
        ScheduledTask.kind == KIND, ScheduledTask.status == "pending", ScheduledTask.key != task.key,
        ScheduledTask.key.startswith(p["series"]), ScheduledTask.fire_at > task.fire_at,
        ScheduledTask.fire_at <= now)).first()
    if later is not None:
        return f"superseded-by:{later}"  # after downtime: only the latest of one deadline goes out
    today = C.today(now)
    if p["stage"] == "due" and today >= date.fromisoformat(p["deadline"]):
        return "deadline-passed"
    staff = app.profile.staff_chat
    sent = 0

    def send(channel: str, chat_id: str, text: str, suffix: str) -> None:
        nonlocal sent
        if enqueue(session, channel, chat_id, Reply(text), now=now, dedupe_key=f"{task.key}:{suffix}",
                   kind="reminder") is not None:
            sent += 1

    if p["target"] == "team":
        late = _late_teams(app, session, p)
        for code, name in late:
            text = message(p, today, group_name=f"Tổ CNSCĐ {name}")
            for person, _ in S.roster(session, code):
                send(person.channel, person.chat_id, text, f"{code}:{person.id}")
        if p["stage"] == "late" and staff is not None:
            send(staff.channel, staff.chat_id, late_list_message(p, [n for _, n in late]), "staff")
        return f"sent:{sent}"
    ward_done = S.submission(session, C.WARD, p["year"], p["quarter"]) is not None
    if ward_done or staff is None:
        return "ward-submitted" if ward_done else "no-staff-chat"
    late_names = None
    if p["quarter"]:
        late_names = [n for _, n in _late_teams(app, session, p)]
    send(staff.channel, staff.chat_id, message(p, today, late_teams=late_names), "staff")
    return f"sent:{sent}"


def describe_plan(app, session: Session, year: int) -> list[str]:
    """Human-readable plan for `python -m bot reminders plan`."""
    lines = []
    staff = app.profile.staff_chat
    staff_txt = f"cán bộ phường ({staff.channel}:{staff.chat_id})" if staff else "(chưa cấu hình staff_chat)"
    for p in plan(app.profile, year):
        when = p.fire_at.strftime("%Y-%m-%d %H:%M")
        pay = p.payload
        today = p.fire_at.date()
        if pay["target"] == "team":
            teams = []
            for g in app.profile.residential_groups:
                n = len(S.roster(session, g.code))
                teams.append(f"{g.code} ({n} người)")
            lines.append(f"{when}  {p.key}  -> các tổ chưa nộp lúc đó: {', '.join(teams)}")
            lines.append(f"    {message(pay, today, group_name='Tổ CNSCĐ <tên tổ>')}")
            if pay["stage"] == "late":
                lines.append(f"    + {staff_txt}: {late_list_message(pay, ['<các tổ chưa nộp>'])}")
        else:
            lines.append(f"{when}  {p.key}  -> {staff_txt}, nếu phường chưa đánh dấu đã gửi")
            lines.append(f"    {message(pay, today)}")
    return lines
