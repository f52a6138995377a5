"""Lớp học and Tổ công nghệ số pages over HTTP: create a class like /taolop, publish it to a
subscriber, see the sign-up and mark attendance; a team's quarter, its downloads, reopening."""
from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from bot import roles as R
from bot.models import Person
from handlers.broadcast.models import ClassSignup, ClassSubscription, LiteracyClass
from handlers.teams.models import TeamSession, TeamSubmission
from tests.admin_helpers import csrf_of, login, make_account
from tests.conftest import Chat
from tests.reports_helpers import outbox
from tests.teams_helpers import enrol


@pytest.fixture
def client(app):
    from bot.server import create_api
    make_account(app)
    with TestClient(create_api(app, background=False)) as c:
        login(c)
        yield c


def _subscriber(app, chat_id="dan-lop", group="tdp-01"):
    chat = Chat(app, chat_id, name="Bà Tư")
    chat.say("/start")
    with app.db.session() as s:
        p = s.exec(select(Person).where(Person.chat_id == chat_id)).one()
        s.add(ClassSubscription(person_id=p.id, channel="web", chat_id=chat_id, group_code=group, topics=[]))
    return chat


def test_class_created_published_signed_up_and_attended(client, app):
    resident = _subscriber(app)
    token = csrf_of(client.get("/admin/classes").text)
    bad = client.post("/admin/classes", data={"csrf": token, "topic": "vneid", "date": "", "time": "08:00",
                                              "capacity": "20"}, follow_redirects=True)
    assert "Bạn chọn ngày" in bad.text
    past = client.post("/admin/classes", data={"csrf": token, "topic": "vneid", "date": "2020-01-05", "time": "08:00",
                                               "capacity": "20", "host": "tdp-01"}, follow_redirects=True)
    assert "sau bây giờ" in past.text
    r = client.post("/admin/classes", data={"csrf": token, "topic": "vneid", "date": "2026-11-29", "time": "08:00",
                                            "capacity": "20", "host": "tdp-01", "weeks": "2"}, follow_redirects=True)
    assert r.status_code == 200 and "Đã tạo bản nháp" in r.text and "Gửi thông báo" in r.text
    with app.db.session() as s:
        cls = s.exec(select(LiteracyClass)).one()
    assert cls.status == "draft" and cls.created_by is not None
    r = client.post(f"/admin/classes/{cls.id}/publish", data={"csrf": csrf_of(r.text)}, follow_redirects=True)
    assert "Đã gửi thông báo tới 1 người" in r.text
    notice = outbox(app, "dan-lop")[-1].payload
    assert "VNeID" in notice["text"]
    resident.press(notice["buttons"][0]["data"])  # "Tham gia"
    page = client.get(f"/admin/classes/{cls.id}").text
    assert "Bà Tư" in page and "tham gia" in page and "Đăng ký tham gia" in page
    with app.db.session() as s:
        su = s.exec(select(ClassSignup)).one()
    occ_id = su.occurrence_id
    early = client.post(f"/admin/classes/{cls.id}/attendance/{occ_id}", data={"csrf": csrf_of(page), "present": su.id},
                        follow_redirects=True)
    assert "chưa diễn ra" in early.text
    app.clock.advance(days=7)  # after the first Sunday class
    login(client)
    page = client.get(f"/admin/classes/{cls.id}").text
    r = client.post(f"/admin/classes/{cls.id}/attendance/{occ_id}", data={"csrf": csrf_of(page), "present": su.id},
                    follow_redirects=True)
    assert "1 người có mặt" in r.text
    r = client.post(f"/admin/classes/{cls.id}/attendance/{occ_id}",
                    data={"csrf": csrf_of(page), "present": su.id, "count": "12"}, follow_redirects=True)
    assert "12 người có mặt" in r.text
    assert client.get("/admin/classes/9999").status_code == 404


def test_team_quarter_downloads_and_reopen(client, app):
    leader = enrol(app, "leader-1", R.TEAM_LEADER, "tdp-01", name="Tổ trưởng Hải")
    with app.db.session() as s:
        s.add(TeamSession(group_code="tdp-01", day=date(2026, 11, 10), place="nvh", households=7, people=11))
        s.add(TeamSubmission(group_code="tdp-01", year=2026, quarter=4))
        s.add(TeamSession(group_code="tdp-01", day=date(2026, 11, 20), place="door", households=2, people=3,
                          late=True))  # logged after submitting: shown, not counted
    page = client.get("/admin/teams?year=2026&q=4")
    assert page.status_code == 200 and "Tổ trưởng Hải" in page.text and "Mở lại" in page.text
    assert "1 buổi ghi sau khi nộp (chưa tính)" in page.text
    assert ">11<" in page.text  # people helped this quarter
    x = client.get("/admin/teams/2026/q4/phuong.xlsx")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    assert client.get("/admin/teams/2026/q4/tdp-01.png").content[:4] == b"\x89PNG"
    assert client.get("/admin/teams/2026/q4/khong-co.xlsx").status_code == 404
    assert client.get("/admin/teams/2026/q9/phuong.exe").status_code == 404
    r = client.post("/admin/teams/2026/q4/tdp-01/reopen", data={"csrf": csrf_of(page.text)}, follow_redirects=True)
    assert "Đã mở lại" in r.text
    with app.db.session() as s:
        assert s.exec(select(TeamSubmission)).first() is None
    assert "mở lại báo cáo" in outbox(app, "leader-1")[-1].payload["text"]
    page = client.get("/admin/teams?year=2026&q=4")
    assert "buổi ghi sau khi nộp" not in page.text and ">14<" in page.text  # reopened: it counts
    r = client.post("/admin/teams/2026/q4/tdp-01/reopen", data={"csrf": csrf_of(page.text)}, follow_redirects=True)
    assert "không cần mở lại" in r.text
