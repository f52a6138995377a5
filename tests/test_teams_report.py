"""The quarterly report: figures against hand-computed totals, the XLSX read back, the chart,
other features' figures via bot.stats, and the authenticated HTTP download."""
from __future__ import annotations

import io
from datetime import date, datetime, timezone

import httpx
import pytest
from openpyxl import load_workbook

from bot import roles as R
from bot import stats
from handlers.teams.models import TeamSession, TeamSubmission
from tests.helpers import Server
from tests.teams_helpers import enrol, person_id

SESSIONS = [  # group, day, households, people, elderly, vulnerable, activities
    ("tdp-01", date(2026, 10, 5), 10, 12, 3, 1, {"act_vneid": 4, "act_payment": 2}),
    ("tdp-01", date(2026, 11, 20), 5, 8, 2, 0, {"act_vneid": 1, "act_dvc": 3}),
    ("tdp-01", date(2026, 8, 10), 7, 9, 1, 1, {"act_vneid": 2}),
    ("tdp-02", date(2026, 11, 1), 0, 20, 5, 2, {"act_security": 15, "act_apps": 3}),
    ("tdp-02", date(2026, 2, 14), 12, 14, 4, 0, {"act_payment": 6, "act_ecommerce": 2}),
    ("tdp-02", date(2025, 12, 10), 100, 100, 10, 10, {"act_vneid": 50}),  # last year: not in 2026 at all
]
# By hand, for quarter IV/2026 and the year 2026 to date:
Q4 = {"sessions": 3, "households": 15, "people": 40, "elderly": 10, "vulnerable": 3, "vneid": 5, "payment": 2,
      "dvc": 3, "security": 15, "apps": 3, "signature": 0, "ecommerce": 0}
YTD = {"sessions": 5, "households": 34, "people": 63, "elderly": 15, "vulnerable": 4, "vneid": 7, "payment": 8,
       "dvc": 3, "security": 15, "apps": 3, "signature": 0, "ecommerce": 2}
LABEL = {"sessions": "Số buổi hỗ trợ", "households": "Số hộ đã đến", "people": "Số người được hỗ trợ",
         "vneid": "Tài khoản VNeID đăng ký/kích hoạt mức 2", "payment": "Tài khoản thanh toán, ví điện tử mở mới",
         "ecommerce": "Sản phẩm địa phương lên sàn TMĐT"}
CALLS: list = []


def _classes(session, start, end, group):
    CALLS.append((start, end, group))
    return {"classes_held": {"tdp-01": 2, "tdp-02": 1, None: 4}.get(group, 0), "class_attendance": 30}


@pytest.fixture
def provider():
    stats.register_stats("test_classes", _classes, {"classes_held": "Số lớp BDHVS đã mở",
                                                    "class_attendance": "Lượt học viên"})
    CALLS.clear()
    yield
    stats.PROVIDERS.pop("test_classes", None)


@pytest.fixture
def data(app):
    with app.db.session() as s:
        for g, d, hh, p, e, v, acts in SESSIONS:
            s.add(TeamSession(group_code=g, day=d, place="door", households=hh, people=p, elderly=e, vulnerable=v,
                              difficulties="Sóng yếu" if g == "tdp-02" and d.month == 11 else None,
                              good_practices="Hẹn qua Zalo" if d == date(2026, 10, 5) else None, **acts))
        s.add(TeamSubmission(group_code="tdp-01", year=2026, quarter=4,
                             submitted_at=datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)))
    return app


def _rows(ws, start=4):
    return [[c.value for c in row] for row in ws.iter_rows(min_row=start) if row[0].value is not None]


def test_ward_report_figures_xlsx_and_chart(data, provider):
    staff = enrol(data, "s1", R.STAFF)
    replies = staff.say("/baocaophuong 4/2026")
    doc = next(r for r in replies if r.document)
    pic = next(r for r in replies if r.photo)
    assert doc.document_name == "bao-cao-to-cnscd-toan-phuong-q4-2026.xlsx"
    assert open(pic.photo, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert any(b.data == "tward:2026-4" for b in pic.buttons)
    assert "chưa nộp" in replies[-1].text and "Tổ dân phố 2" in replies[-1].text
    wb = load_workbook(doc.document)
    assert wb.sheetnames == ["Tổng hợp", "Theo tổ", "Theo hoạt động", "Khó khăn, cách làm hay", "Tình trạng nộp"]
    summary = {r[0]: (r[1], r[2]) for r in _rows(wb["Tổng hợp"])}
    for key, label in LABEL.items():
        assert summary[label] == (Q4[key], YTD[key]), key
    assert summary["Trong đó người cao tuổi (60+)"] == (10, 15)
    assert summary["Số lớp BDHVS đã mở"] == (4, 4)  # the ward's figure comes from the provider (None)
    assert len(wb["Tổng hợp"]._images) == 1  # the chart is in the workbook too

    # per team: quarter and year-to-date rows; the ward row is the sum of the teams
    head = [c.value for c in wb["Theo tổ"][3]]
    rows = _rows(wb["Theo tổ"])
    by = {(r[0], r[1]): dict(zip(head[2:], r[2:])) for r in rows}
    q, y = "Quý IV/2026", "Lũy kế năm 2026"
    assert by[("Tổ dân phố 1", q)]["Số hộ đã đến"] == 15 and by[("Tổ dân phố 1", y)]["Số hộ đã đến"] == 22
    assert by[("Tổ dân phố 2", y)]["Số buổi hỗ trợ"] == 2 and by[("Tổ dân phố 3", q)]["Số buổi hỗ trợ"] == 0
    for period in (q, y):
        teams = [v for (name, p), v in by.items() if p == period and name != "Toàn phường"]
        assert len(teams) == 6
        for col in head[2:]:
            if col in ("Số lớp BDHVS đã mở", "Lượt học viên"):
                continue
            assert by[("Toàn phường", period)][col] == sum(t[col] for t in teams), col
    assert by[("Tổ dân phố 1", q)]["Số lớp BDHVS đã mở"] == 2

    acts = {r[0]: r[1:] for r in _rows(wb["Theo hoạt động"])}
    assert acts[LABEL["vneid"]][0] == 5 and acts[LABEL["vneid"]][6] == 5 and acts[LABEL["vneid"]][7] == 7
    notes = _rows(wb["Khó khăn, cách làm hay"])
    assert ["05/10/2026", "Tổ dân phố 1", None, None, "Hẹn qua Zalo"] in notes
    assert any(r[1] == "Tổ dân phố 2" and r[3] == "Sóng yếu" for r in notes)
    status = {r[0]: r for r in _rows(wb["Tình trạng nộp"])}
    assert status["Tổ dân phố 1"][3] == "Đã nộp" and status["Tổ dân phố 1"][5] == 2
    assert status["Tổ dân phố 2"][3] == "Chưa nộp (chưa đến hạn)"
    # providers were asked for the quarter in local time, per team and for the ward
    qstart = datetime(2026, 9, 30, 17, 0, tzinfo=timezone.utc)
    assert (qstart, datetime(2026, 12, 31, 17, 0, tzinfo=timezone.utc), None) in CALLS
    assert any(c[0] == qstart and c[2] == "tdp-04" for c in CALLS)


def test_late_status_after_the_deadline(data, clock):
    clock.set(datetime(2026, 12, 21, 9, 0))
    staff = enrol(data, "s1", R.STAFF)
    doc = next(r for r in staff.say("/baocaophuong") if r.document)
    status = {r[0]: r[3] for r in _rows(load_workbook(doc.document)["Tình trạng nộp"])}
    assert status["Tổ dân phố 1"] == "Đã nộp" and status["Tổ dân phố 2"] == "Chưa nộp (quá hạn)"


def test_leader_gets_own_team_report_and_submits(data, provider):
    leader = enrol(data, "l2", R.TEAM_LEADER, "tdp-02", name="Phan Văn Tổ Trưởng")
    replies = leader.say("/baocaoto")
    doc = next(r for r in replies if r.document)
    assert doc.document_name == "bao-cao-to-cnscd-tdp-02-q4-2026.xlsx"
    wb = load_workbook(doc.document)
    summary = {r[0]: (r[1], r[2]) for r in _rows(wb["Tổng hợp"])}
    assert summary["Số người được hỗ trợ"] == (20, 34) and summary["Số lớp BDHVS đã mở"] == (1, 1)
    assert [r[0] for r in _rows(wb["Tình trạng nộp"])] == ["Tổ dân phố 2"]
    assert "Số buổi hỗ trợ: 1 / 2" in replies[0].text
    submit = next(b for r in replies for b in r.buttons)
    assert submit.data == "tsubmit:ask:tdp-02:2026-4"
    leader.press(submit.data)
    assert "Đã nộp" in leader.text(button="tsubmit:do:tdp-02:2026-4")
    assert "đã nộp báo cáo quý IV/2026 rồi" in leader.text(button="tsubmit:do:tdp-02:2026-4")
    doc = next(r for r in leader.say("/baocaoto") if r.document)
    assert {r[0]: r[3] for r in _rows(load_workbook(doc.document)["Tình trạng nộp"])}["Tổ dân phố 2"] == "Đã nộp"
    assert "chỉ xem được báo cáo của tổ mình" in leader.text("/baocaoto tdp-01")
    assert "chưa bắt đầu" in leader.text("/baocaoto 1/2027")


def test_staff_marks_the_ward_report_sent(data):
    staff = enrol(data, "s1", R.STAFF)
    assert "Đã ghi nhận báo cáo quý IV/2026 của phường đã gửi" in staff.text(button="tward:2026-4")
    assert "từ trước" in staff.text("/danop 4/2026")
    assert "tổng kết năm 2026" in staff.text("/danop nam 2026")
    assert "Cách dùng" in staff.text("/danop")


def test_authenticated_download_401_403_200(data, settings):
    staff = enrol(data, "s1", R.STAFF)
    leader = enrol(data, "l1", R.TEAM_LEADER, "tdp-01")
    member = enrol(data, "m1", R.TEAM_MEMBER, "tdp-01")
    assert "dành cho" in member.text("/matai")
    staff_token = staff.text("/matai").split("\n")[1]
    leader_token = leader.text("/matai").split("\n")[1]
    old = leader_token
    leader_token = leader.text("/matai").split("\n")[1]  # a new token replaces the old one
    srv = Server(settings).start()
    try:
        url = srv.url + "/reports/teams/2026/q4.xlsx"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {old}"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {leader_token}"}).status_code == 403
        r = httpx.get(url, headers={"Authorization": f"Bearer {staff_token}"}, timeout=60)
        assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
        wb = load_workbook(io.BytesIO(r.content))
        summary = {row[0]: (row[1], row[2]) for row in _rows(wb["Tổng hợp"])}
        assert summary["Số hộ đã đến"] == (15, 34)
        # Tokens only in headers: a ?token= would be written to access logs.
        r = httpx.get(srv.url + "/reports/teams/2026/q4.png", params={"token": staff_token}, timeout=60)
        assert r.status_code == 400 and "Authorization" in r.json()["error"]
        r = httpx.get(srv.url + "/reports/teams/2026/q4.png", headers={"X-Token": staff_token}, timeout=60)
        assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
        team = srv.url + "/reports/teams/2026/q4/tdp-01.xlsx"
        r = httpx.get(team, headers={"Authorization": f"Bearer {leader_token}"}, timeout=60)
        assert r.status_code == 200
        assert {row[0]: row[1] for row in _rows(load_workbook(io.BytesIO(r.content))["Tổng hợp"])}[
            "Số hộ đã đến"] == 15
        other = srv.url + "/reports/teams/2026/q4/tdp-02.xlsx"
        assert httpx.get(other, headers={"Authorization": f"Bearer {leader_token}"}).status_code == 403
        assert httpx.get(srv.url + "/reports/teams/2026/q7.xlsx",
                         headers={"Authorization": f"Bearer {staff_token}"}).status_code == 404
    finally:
        srv.stop()
    # the chat never shows a token again, and the database keeps only a hash
    from sqlmodel import select
    from bot.models import ApiToken
    with data.db.session() as s:
        hashes = [t.token_hash for t in s.exec(select(ApiToken))]
    assert staff_token not in hashes and len(hashes[0]) == 64
    assert person_id(data, staff)
