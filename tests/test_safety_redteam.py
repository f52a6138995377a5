"""Attacks on what landed after issue 10 was filed (transfer, reopen, late team sessions, answer
feedback, the back-office flash cookie, names): each test is one attack that once worked."""
from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(app):
    from bot.server import create_api
    with TestClient(create_api(app, background=False), raise_server_exceptions=False) as c:
        yield c


def _flash(value) -> str:
    return base64.urlsafe_b64encode(value if isinstance(value, bytes) else json.dumps(value).encode()).decode()


def test_a_crafted_flash_cookie_is_ignored_never_a_500_and_never_html(client):
    """Anyone can send any bo_flash cookie to /admin/login: nesting, lone surrogates, NUL or
    markup must neither crash the page nor inject HTML."""
    for value in (b"[" * 2900, ["err", "\ud800x"], ["ok", "a\u0000b"], b'["err", NaN]', b"1" + b"0" * 3000,
                  {"ok": 1, "err": 2}, "ok", ["err", "<script>alert(1)</script>"], b"\xff\xfe", "x" * 5000):
        from bot.webadmin import web
        for cookie in (_flash(value), f"{_flash(value)}.{web._flash_mac(_flash(value))}"):  # forged; signed
            client.cookies.set("bo_flash", cookie, path="/admin")
            r = client.get("/admin/login")
            assert r.status_code == 200, (value if len(str(value)) < 80 else str(value)[:80], r.status_code)
            assert "<script>alert" not in r.text
    client.cookies.set("bo_flash", "%%%not-base64", path="/admin")
    assert client.get("/admin/login").status_code == 200


def test_a_flash_cookie_planted_by_someone_else_shows_nothing(client):
    """A site that can set cookies for the ward's domain (a sibling subdomain) must not put its
    words on staff pages: the flash cookie is signed with the data dir's key."""
    from bot.webadmin import web
    words = _flash(["err", "Phiên đã hết hạn, đăng nhập lại tại lua-dao.example"])
    client.cookies.set("bo_flash", words, path="/admin")
    assert "lua-dao" not in client.get("/admin/login").text
    client.cookies.set("bo_flash", f"{words}.{'0' * 32}", path="/admin")
    assert "lua-dao" not in client.get("/admin/login").text
    client.cookies.set("bo_flash", f"{words}.{web._flash_mac(words)}", path="/admin")
    assert "lua-dao" in client.get("/admin/login").text  # the same words, signed by the server


def test_back_office_ids_too_big_for_the_database_are_a_4xx(client, app):
    """A staff member (or a stolen session) typing a 30-digit id in a back-office address: the
    SQLite driver refuses the number, PostgreSQL says "integer out of range" from 2^31 on; that is
    bad input, not a server error."""
    from tests.admin_helpers import login, make_account
    make_account(app)
    login(client)
    for path in [p for huge in ("9" * 30, "3000000000") for p in (
            f"/admin/reports/{huge}", f"/admin/classes/{huge}", f"/admin/audit?before={huge}",
            f"/admin/reports/{huge}/photo/0", f"/admin/reports?page={huge}", f"/admin/unanswered?before={huge}")]:
        r = client.get(path)
        assert r.status_code < 500, (path, r.status_code)


def test_ids_too_big_for_an_integer_column_never_end_in_the_internal_error(app, clock):
    """parse_id let 10 to 18 digits through ("fits 64 bits"), but ids are 32-bit INTEGER columns:
    PostgreSQL refused `pa:acc:99999999999` with "integer out of range"."""
    from bot import texts
    from bot import roles as R
    from tests.test_safety_engine import with_role
    from tests.conftest import Chat
    staff = with_role(app, Chat(app, "staff-big", name="Cán bộ Hùng"), R.ADMIN)
    resident = Chat(app, "res-big", name="Lê Văn Tư")
    resident.say("/start")
    big = "9" * 11
    for data in (f"pa:acc:{big}", f"pa:tr:{big}", f"pa:tru:{big}:ca", f"pa:to:1:{big}", f"tsess:edit:{big}",
                 f"ddanh:{big}", f"lop:y:{big}"):
        assert texts.INTERNAL_ERROR not in staff.text(button=data), data
    for text in (f"/traloi {big} x", f"/tinhtrang {big}", f"/xoathanhvien {big}", f"/dangkylop {big}"):
        assert texts.INTERNAL_ERROR not in staff.text(text), text
    for data in (f"parate:{big}:5", f"paredo:{big}", f"pareply:{big}", f"lop:n:{big}"):
        assert texts.INTERNAL_ERROR not in resident.text(button=data), data


def test_an_anonymous_reporter_is_not_named_in_the_back_office(make_app, understander, clock):
    """The card says "ẩn danh", but the report's history and the audit log named the actor of
    the "created", "rated" and "reopened" events: the resident's own name (person_label)."""
    from bot.core import Location
    from bot.server import create_api
    from tests.admin_helpers import login, make_account
    from tests.conftest import Chat
    from tests.reports_helpers import FakeNLU, make_staff
    app = make_app(understander=FakeNLU(understander))
    who = Chat(app, "anon-1", name="Trần Thị Kín Đáo")
    who.say("/hoten Trần Thị Kín Đáo")
    if "Đúng không" in who.text("Rác chất đống ở đầu kiệt 45 Lê Lợi"):
        who.press("phananh:catok")
    who.press("phananh:photodone")
    who.say(location=Location(16.0671, 108.2231))
    who.press("phananh:grp:tdp-02")
    who.press("phananh:anon")
    assert "PA-" in who.text(button="phananh:send")
    lan = make_staff(app, clock)
    lan.press("pa:res:1")
    lan.say("Đã dọn sạch")
    lan.press("pastaff:skip")
    who.press("parate:1:1")  # one star: reopened, the resident's words follow
    who.say("Vẫn còn rác ở góc kiệt")
    make_account(app)
    with TestClient(create_api(app, background=False), raise_server_exceptions=False) as c:
        login(c)
        page = c.get("/admin/reports/1").text
        assert "ẩn danh" in page and "reopened" in page
        audit = c.get("/admin/audit").text
    for shown in (page, audit):
        assert "Kín Đáo" not in shown and "Kín" not in shown


def test_team_notes_and_names_are_text_in_the_xlsx_never_formulas(app):
    """A team member's note or Telegram name starting with "=" went into the quarterly XLSX as a
    formula (openpyxl writes such strings as formulas): a link or a command in the sheet staff open
    and send to the department."""
    from datetime import date

    from openpyxl import load_workbook

    from bot import roles as R
    from bot.models import Person
    from handlers.teams.models import TeamSession
    from tests.teams_helpers import enrol
    evil = '=HYPERLINK("http://lua-dao.example","Bấm vào đây")'
    with app.db.session() as s:
        p = Person(channel="telegram", channel_user_id="t-evil", chat_id="t-evil", display_name="=1+2")
        s.add(p)
        s.flush()
        s.add(TeamSession(group_code="tdp-01", day=date(2026, 10, 5), place="door", households=1, people=1,
                          author_id=p.id, difficulties=evil, good_practices="=2*3"))
    staff = enrol(app, "s1", R.STAFF)
    doc = next(r for r in staff.say("/baocaophuong 4/2026") if r.document)
    ws = load_workbook(doc.document)["Khó khăn, cách làm hay"]
    cells = [c for row in ws.iter_rows(min_row=4) for c in row if c.value]
    assert {c.value for c in cells} >= {evil, "=1+2", "=2*3"}
    assert all(c.data_type != "f" for c in cells), [(c.coordinate, c.value) for c in cells if c.data_type == "f"]


def test_deeply_nested_zalo_oa_webhook_bodies_are_a_4xx_signed_or_not(make_app, settings):
    """The OA signature is computed over a timestamp read from the body, so the body was parsed
    (json.loads, no depth cap) before anything was checked: '[' * 50000 from anyone was a 500."""
    import hashlib
    from dataclasses import replace

    from bot.server import create_api
    app = make_app(settings=replace(settings, zalo_oa_app_id="app1", zalo_oa_secret_key="sek",
                                    zalo_oa_access_token="tok"))
    with TestClient(create_api(app, background=False), raise_server_exceptions=False) as c:
        for raw in (b"[" * 50000, b'{"a":' * 30000):
            mac = "mac=" + hashlib.sha256(b"app1" + raw + b"sek").hexdigest()
            for given in ("mac=00", mac):
                r = c.post("/webhook/zalo-oa", content=raw, headers={"X-ZEvent-Signature": given})
                assert 400 <= r.status_code < 500, (raw[:8], given[:8], r.status_code)


def test_back_office_forms_with_unicode_digits_or_huge_ids(client, app):
    """str.isdigit() took '²' (then int() failed: a 500) and 30-digit ids on the back-office forms."""
    from tests.admin_helpers import csrf_of, login, make_account
    make_account(app)
    login(client)
    token = csrf_of(client.get("/admin/accounts").text)
    for ids in ("²", "9" * 30, "1,²", "٣"):
        for action in ("out_of_scope", "attach"):
            r = client.post("/admin/unanswered/resolve", data={"csrf": token, "ids": ids, "action": action,
                                                               "topic": "x"})
            assert r.status_code < 500, (ids, action, r.status_code)


def test_back_office_class_form_with_unicode_digits_or_huge_numbers(client, app):
    """'²' (isdigit() but not int()) or a 5000-digit number in the weeks, seats or duration of a
    new class was a 500; it is the form's own message."""
    from tests.admin_helpers import csrf_of, login, make_account
    make_account(app)
    login(client)
    token = csrf_of(client.get("/admin/classes").text)
    base = {"csrf": token, "topic": "vneid", "date": "2026-12-20", "time": "08:00", "weeks": "1",
            "capacity": "20", "duration": "90", "place": "Nhà văn hóa tổ 1"}
    for field in ("weeks", "capacity", "duration"):
        for value in ("²", "٣", "9" * 30, "9" * 5000):
            r = client.post("/admin/classes", data={**base, field: value}, follow_redirects=False)
            assert r.status_code < 500, (field, value[:6], r.status_code)
