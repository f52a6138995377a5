"""Deadline reminders through a whole simulated 2026: daily ticks at 07:59 and 08:00 local,
the application re-created several times, two stretches of downtime."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta

import yaml
from sqlmodel import select

from bot import roles as R
from bot.config import ROOT
from bot.models import OutboxMessage, ScheduledTask
from handlers.teams import reminders
from scheduler import core
from tests.conftest import Chat
from tests.helpers import bot_env
from tests.teams_helpers import enrol

STAFF_CHAT = "-1001000000010"  # knowledge/ward.yaml staff_chat


def reminder_counts(app) -> Counter:
    with app.db.session() as s:
        return Counter(m.chat_id for m in s.exec(select(OutboxMessage).where(OutboxMessage.kind == "reminder")))


def simulate(make_app, clock, start: date, end: date, down: list[tuple[date, date]], restarts: set[date],
             actions: dict):
    """Tick daily at 07:59 and 08:00 from start to end (inclusive). No ticks while down; the app is
    re-created after downtime and on restart days. Returns the app in use at the end."""
    app = make_app()
    early_rows = 0
    day = start
    while day <= end:
        if any(a <= day < b for a, b in down):
            day += timedelta(days=1)
            continue
        if day in restarts or any(day == b for _, b in down):
            clock.set(datetime(day.year, day.month, day.day, 7, 0))
            app = make_app()  # startup plans again: must not duplicate anything
            core.run_due(app)  # the heartbeat's first tick at start: catch-up after downtime
        before = sum(reminder_counts(app).values())
        clock.set(datetime(day.year, day.month, day.day, 7, 59))
        core.run_due(app)
        early_rows += sum(reminder_counts(app).values()) - before
        clock.set(datetime(day.year, day.month, day.day, 8, 0))
        core.run_due(app)
        clock.set(datetime(day.year, day.month, day.day, 12, 0))
        for fn in actions.get(day, []):
            fn(app)
        day += timedelta(days=1)
    assert early_rows == 0  # nothing before 08:00
    return app


def test_a_whole_year_of_reminders_with_restarts_and_downtime(make_app, clock):
    clock.set(datetime(2026, 1, 1, 7, 0))
    app = make_app()
    enrol(app, "l1", R.TEAM_LEADER, "tdp-01")
    enrol(app, "m1", R.TEAM_MEMBER, "tdp-01")
    enrol(app, "l2", R.TEAM_LEADER, "tdp-02")
    enrol(app, "s1", R.STAFF)

    def submit(q):
        def fn(a):
            out = Chat(a, "l2").text(button=f"tsubmit:do:tdp-02:2026-{q}")
            assert "Đã nộp" in out, out
        return fn

    def ward_sent(a):
        assert "Đã ghi nhận" in Chat(a, "s1").text("/danop 2/2026")

    actions = {date(2026, 3, 10): [submit(1)], date(2026, 6, 18): [submit(2)], date(2026, 6, 21): [ward_sent],
               date(2026, 12, 5): [submit(4)]}
    down = [(date(2026, 9, 12), date(2026, 9, 18)), (date(2026, 11, 26), date(2026, 12, 2))]
    app = simulate(make_app, clock, date(2026, 1, 1), date(2027, 1, 2), down,
                   {date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1)}, actions)

    got = reminder_counts(app)
    # tdp-01 never submits: 4 per quarter, but Q3 lost the 13th to downtime and the 17th's catch-up
    # replaced the 13th's (only the latest of one deadline): 4 + 4 + 3 + 4.
    assert got["l1"] == got["m1"] == 15
    # tdp-02: Q1 in before the first reminder, Q2 after two, Q3 never (3, downtime), Q4 early.
    assert got["l2"] == 0 + 2 + 3 + 0
    # staff: per quarter the late list on the 20th + the ward deadline's 7/3/1-day reminders and overdue
    # notice (Q2: marked sent on 21/6, so only the 20/6 one); annual: 23/11, then downtime from 26/11
    # to 2/12 collapses 27/11, 29/11 and 30/11 into the one overdue notice.
    assert got[STAFF_CHAT] == (1 + 4) + (1 + 1) + (1 + 4) + (1 + 4) + 2
    assert set(got) == {"l1", "m1", "l2", STAFF_CHAT}  # teams without members get nothing

    with app.db.session() as s:
        rows = list(s.exec(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                           .order_by(OutboxMessage.id)))
        texts = [r.payload["text"] for r in rows if r.chat_id == "m1"]
        assert "còn 7 ngày" in texts[0] and "20/03/2026" in texts[0]
        assert "chưa nộp" in texts[3]  # the last call on 20/3
        q3 = [r for r in rows if r.chat_id == "m1" and "quý III" in r.payload["text"]]
        assert [r.created_at.date() for r in q3] == [date(2026, 9, 18), date(2026, 9, 19), date(2026, 9, 20)]
        assert "còn 2 ngày" in q3[0].payload["text"]  # days left counted at sending time
        late_lists = [r.payload["text"] for r in rows if r.chat_id == STAFF_CHAT and "Các tổ chưa nộp báo cáo" in r.payload["text"]]
        assert len(late_lists) == 4
        assert "Tổ dân phố 1" in late_lists[0] and "Tổ dân phố 2" not in late_lists[0]  # 2 submitted Q1
        assert "Tổ dân phố 2" not in late_lists[1] and "Tổ dân phố 2" in late_lists[2]
        assert "Tổ dân phố 2" not in late_lists[3] and "Tổ dân phố 1" in late_lists[3]
        tasks = {t.key: t for t in s.exec(select(ScheduledTask).where(ScheduledTask.key.startswith("teams:2026")))}
        assert tasks["teams:2026-q3:team:d7"].payload["outcome"].startswith("superseded-by:teams:2026-q3:team:d3")
        assert tasks["teams:2026-annual:d3"].payload["outcome"].startswith("superseded-by")
        assert all(t.status == "done" for t in tasks.values())
        # the yearly planning task planned 2027 at the turn of the year
        nxt = list(s.exec(select(ScheduledTask).where(ScheduledTask.key.startswith("teams:2027-"))))
        assert len(nxt) == len(reminders.plan(app.profile, 2027)) == 4 * 2 * 4 + 4
        assert s.get(ScheduledTask, "teams:plan:2028") is not None


def test_missed_reminders_drop_policy(make_app, clock, settings, tmp_path):
    prof = yaml.safe_load((ROOT / "knowledge" / "ward.yaml").read_text(encoding="utf-8"))
    prof["team_reports"]["missed_reminders"] = "drop"
    path = tmp_path / "ward.yaml"
    path.write_text(yaml.safe_dump(prof, allow_unicode=True), encoding="utf-8")
    clock.set(datetime(2026, 9, 1, 7, 0))
    drop_settings = replace(settings, ward_profile=path)
    app = make_app(settings=drop_settings)
    enrol(app, "m1", R.TEAM_MEMBER, "tdp-01")
    down = [(date(2026, 9, 12), date(2026, 9, 18))]
    day = date(2026, 9, 1)
    while day <= date(2026, 9, 21):
        if not any(a <= day < b for a, b in down):
            if day == down[0][1]:
                app = make_app(settings=drop_settings)
            clock.set(datetime(day.year, day.month, day.day, 8, 0))
            core.run_due(app)
        day += timedelta(days=1)
    assert reminder_counts(app)["m1"] == 2  # 19/9 and the last call; 13/9 and 17/9 dropped
    with app.db.session() as s:
        assert s.get(ScheduledTask, "teams:2026-q3:team:d3").payload["outcome"] == "dropped-late"


def test_planning_is_idempotent_and_follows_the_profile(app, clock):
    clock.set(datetime(2026, 1, 1, 7, 0))
    with app.db.session() as s:
        first = reminders.plan_year(app, s, 2026, clock.now())
        again = reminders.plan_year(app, s, 2026, clock.now())
        n = len(s.exec(select(ScheduledTask).where(ScheduledTask.key.startswith("teams:2026-"))).all())
    assert first == n == 36 and again == 36  # re-planning only confirms (replace) the same times
    app.profile.team_reports.reminder_days_before = [5]
    app.profile.team_reports.deadline_day = 18
    with app.db.session() as s:
        reminders.plan_year(app, s, 2026, clock.now())
        pending = {t.key: t for t in core.upcoming(s, prefix="teams:2026-")}
        cancelled = s.exec(select(ScheduledTask).where(ScheduledTask.status == "cancelled")).all()
    assert "teams:2026-q1:team:d7" not in pending and len(cancelled) == 9 * 3  # 9 deadlines x (7, 3, 1)
    t = pending["teams:2026-q1:team:d5"]
    assert t.fire_at == datetime(2026, 3, 13, 1, 0, tzinfo=t.fire_at.tzinfo)  # 08:00 local on 13/3 (18 - 5)


def test_plan_is_not_made_for_the_past(app):
    # First start at 09:00 on 23/11/2026 (the clock fixture): nothing before now is planned, not
    # even the annual summary's reminder of 08:00 today.
    with app.db.session() as s:
        keys = sorted(t.key for t in core.upcoming(s, prefix="teams:2026-"))
    assert keys == sorted([f"teams:2026-{series}:{stage}" for series in ("annual", "q4:team", "q4:ward")
                           for stage in ("d7", "d3", "d1", "late")
                           if (series, stage) != ("annual", "d7")])


def test_cli_prints_the_plan(settings, app):
    r = subprocess.run([sys.executable, "-m", "bot", "reminders", "plan", "--year", "2026"], cwd=ROOT,
                       env=bot_env(settings), capture_output=True, timeout=120)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    lines = [ln for ln in out.splitlines() if ln.startswith("2026-")]
    assert len(lines) == 36
    assert lines[0].startswith("2026-03-13 08:00  teams:2026-q1:team:d7")
    assert "2026-03-20 08:00  teams:2026-q1:team:late" in out and "2026-11-30 08:00  teams:2026-annual:late" in out
    assert "còn 7 ngày" in out and "cán bộ phường (telegram:-1001000000010)" in out
