"""Roster management by staff, one leader per team, and the demo ward."""
from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
import sys

from openpyxl import load_workbook
from sqlmodel import func, select

from bot import roles as R
from bot.config import ROOT
from bot.models import OutboxMessage, Person
from handlers.teams import service as S
from handlers.teams.models import TeamSession, TeamSubmission
from tests.conftest import Chat
from tests.helpers import bot_env
from tests.teams_helpers import enrol, person_id


def test_a_new_leader_replaces_the_old_one(app):
    old = enrol(app, "l1", R.TEAM_LEADER, "tdp-01", name="Tổ Trưởng Cũ")
    new = enrol(app, "l2", R.TEAM_LEADER, "tdp-01", name="Tổ Trưởng Mới")
    with app.db.session() as s:
        assert S.leader_of(s, "tdp-01").display_name == "Tổ Trưởng Mới"
        assert R.roles_of(s, person_id(app, old)) == {R.RESIDENT, R.TEAM_MEMBER}
        assert S.team_of(s, person_id(app, old)) == "tdp-01"
    assert "dành cho tổ trưởng" in old.text("/nopbaocao")
    assert "Nộp báo cáo" in new.text(button="tsubmit:ask:tdp-01:2026-4")


def test_staff_list_move_and_remove(app):
    staff = enrol(app, "s1", R.STAFF)
    a = enrol(app, "a", R.TEAM_MEMBER, "tdp-01", name="Nguyễn Văn An")
    b = enrol(app, "b", R.TEAM_LEADER, "tdp-02", name="Trần Thị Bé")
    ida, idb = person_id(app, a), person_id(app, b)
    out = staff.text("/doi")
    assert f"#{ida} Nguyễn Văn An" in out and f"#{idb} Trần Thị Bé - tổ trưởng" in out
    assert "Tổ dân phố 3 (tdp-03): 0 người" in out
    assert "Không có tổ dân phố tdp-99" in staff.text("/doi tdp-99")
    assert "Cách dùng" in staff.text("/chuyendoi")
    assert "Không tìm thấy thành viên #999" in staff.text("/chuyendoi 999 tdp-02")
    assert "Không có tổ dân phố tdp-99" in staff.text(f"/chuyendoi {ida} tdp-99")
    out = staff.text(f"/chuyendoi {ida} tdp-02 totruong")
    assert "làm tổ trưởng" in out and "Trần Thị Bé thôi làm tổ trưởng" in out
    with app.db.session() as s:
        assert S.team_of(s, ida) == "tdp-02" and S.leader_of(s, "tdp-02").id == ida
        assert [p.id for p, _ in S.roster(s, "tdp-01")] == []
        notes = [m.payload["text"] for m in s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == "a"))]
    assert any("tổ trưởng" in t for t in notes)
    assert "đã ở Tổ dân phố 2 rồi" in staff.text(f"/chuyendoi {idb} tdp-02")
    assert "Đã xóa Trần Thị Bé" in staff.text(f"/xoathanhvien {idb}")
    assert "dành cho thành viên" in b.text("/ghinhan")
    assert "Không tìm thấy" in staff.text(f"/xoathanhvien {idb}")
    # only staff manage teams
    assert "dành cho cán bộ phường" in a.text("/doi")


def test_demo_data_fills_a_fresh_database_and_refuses_twice(settings, app):
    env = bot_env(settings)
    r = subprocess.run([sys.executable, "-m", "bot", "demo-data"], cwd=ROOT, env=env, capture_output=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
    assert "demo ward ready: 6 teams" in r.stdout.decode()
    with app.db.session() as s:
        n_sessions = s.exec(select(func.count()).select_from(TeamSession)).one()
        people = s.exec(select(Person)).all()
        assert all(p.channel == "web" for p in people) and len(people) >= 24
        for g in app.profile.residential_groups:
            members = S.roster(s, g.code)
            assert 4 <= len(members) <= 6 and sum(role == R.TEAM_LEADER for _, role in members) == 1
        rows = s.exec(select(TeamSession)).all()
        assert all(r.people >= r.elderly + r.vulnerable and r.households <= 200 for r in rows)
        assert any(r.difficulties for r in rows) and any(r.good_practices for r in rows)
        assert s.exec(select(func.count()).select_from(TeamSubmission)).one() > 0
        # residents' reports and classes too, so every row of the quarterly report has figures
        from bot.stats import collect
        from bot.models import OutboxMessage, ScheduledTask
        year = collect(s, datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc))
        assert year["reports_received"] > 20 and 0 < year["reports_resolved"] <= year["reports_received"]
        assert year["classes_held"] > 5 and 0 < year["class_attendance"]
        # the demo's past is not re-sent or re-reminded when the server starts
        assert not s.exec(select(OutboxMessage).where(OutboxMessage.status == "pending",
                                                      OutboxMessage.created_at < app.clock.now() - timedelta(days=2))).all()
        overdue_tasks = s.exec(select(ScheduledTask).where(ScheduledTask.status == "pending",
                                                           ScheduledTask.key.startswith("report:"),
                                                           ScheduledTask.fire_at < app.clock.now())).all()
        assert overdue_tasks == []
    assert 6 * 60 < n_sessions < 6 * 160  # about two sessions a week per team, for a year
    again = subprocess.run([sys.executable, "-m", "bot", "demo-data"], cwd=ROOT, env=env, capture_output=True,
                           timeout=120)
    assert again.returncode == 2 and "not empty" in again.stdout.decode()
    forced = subprocess.run([sys.executable, "-m", "bot", "demo-data", "--force"], cwd=ROOT, env=env,
                            capture_output=True, timeout=120)
    assert forced.returncode == 0
    with app.db.session() as s:
        assert abs(s.exec(select(func.count()).select_from(TeamSession)).one() - n_sessions) < n_sessions
        assert len(s.exec(select(Person)).all()) == len(people)  # the same demo people, not twice
    # a newcomer sees a real report at once
    staff = enrol(app, "s1", R.STAFF)
    doc = next(rep for rep in staff.say("/baocaophuong") if rep.document)
    summary = {row[0].value: row[1].value for row in load_workbook(doc.document)["Tổng hợp"].iter_rows(min_row=4)}
    assert summary["Số buổi hỗ trợ"] > 0 and summary["Số người được hỗ trợ"] > summary["Số buổi hỗ trợ"]


def test_erasing_data_removes_download_tokens(app):
    staff = enrol(app, "s1", R.STAFF)
    staff.text("/matai")
    staff.press("erase:xoa")
    from bot.models import ApiToken
    with app.db.session() as s:
        assert s.exec(select(ApiToken)).all() == []
