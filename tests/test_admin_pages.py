"""Back-office pages over HTTP against a real database: a report filed through Open311 and one
from the chat are listed and filtered, handled from the report's page (each step reaches the
resident's chat through the outbox), a question passed to staff is answered from the back office,
the dashboard and the audit log show what happened."""
from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from bot.core import Location
from bot.models import Handoff
from handlers.reports.models import Report, ReportEvent
from tests.admin_helpers import csrf_of, login, make_account
from tests.conftest import Chat
from tests.reports_helpers import FakeNLU, code_in, file_report, outbox

KEY = "k-admin-1"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * (1536 * 1024)  # a phone photo's size, over the JSON body limit


@pytest.fixture
def app(make_app, settings, understander):
    return make_app(settings=replace(settings, open311_api_keys=[KEY]), understander=FakeNLU(understander))


@pytest.fixture
def client(app):
    from bot.server import create_api
    make_account(app)
    with TestClient(create_api(app, background=False)) as c:
        login(c)
        yield c


def open311(client, **kw):
    data = {"api_key": KEY, "service_code": "rac-thai", "lat": "16.0671", "long": "108.2231",
            "description": "Rác chất đống trước chợ Hàn", **kw}
    r = client.post("/open311/v2/requests.json", data=data)
    assert r.status_code in (200, 201), r.text
    return r


def act(client, rid, **data):
    page = client.get(f"/admin/reports/{rid}")
    files = data.pop("files", None)
    return client.post(f"/admin/reports/{rid}/action", data={"csrf": csrf_of(page.text), **data}, files=files,
                       follow_redirects=True)


def test_open311_report_is_listed_filtered_and_mapped(client, app):
    open311(client)
    with app.db.session() as s:
        r = s.exec(select(Report)).one()
    page = client.get("/admin/reports")
    assert page.status_code == 200 and r.code in page.text
    assert '"lat": 16.0671' in page.text  # a marker on the map
    assert r.code in client.get("/admin/reports?category=rac-thai").text
    assert r.code not in client.get("/admin/reports?category=tieng-on").text
    assert r.code not in client.get("/admin/reports?status=resolved").text
    assert r.code not in client.get("/admin/reports?overdue=1").text
    app.clock.advance(days=5)
    login(client)  # the 12-hour session ended meanwhile
    assert r.code in client.get("/admin/reports?overdue=1").text
    assert r.code in client.get(f"/admin/reports?q={r.code}").text
    assert client.get("/admin/reports?status=bogus&page=-4").status_code == 200
    assert client.get("/admin/reports/999999").status_code == 404


def test_report_handled_end_to_end_resident_told_each_step(client, app, tmp_path):
    resident = Chat(app, "dan-1", name="Lê Văn Dân")
    media = app.settings.data_dir / "media"  # where channel adapters store photos
    media.mkdir(parents=True, exist_ok=True)
    code = code_in(file_report(resident, "Rác thải đổ bừa bãi ở đầu kiệt 45 mấy ngày nay", media,
                               location=Location(16.068, 108.221)))
    with app.db.session() as s:
        r = s.exec(select(Report).where(Report.code == code)).one()
    page = client.get(f"/admin/reports/{r.id}")
    assert page.status_code == 200 and "Rác thải đổ bừa bãi" in page.text
    assert f"/admin/reports/{r.id}/photo/0" in page.text
    img = client.get(f"/admin/reports/{r.id}/photo/0")
    assert img.status_code == 200 and img.content.startswith(b"\xff\xd8\xff")
    assert client.get(f"/admin/reports/{r.id}/photo/7").status_code == 404

    assert "Đã tiếp nhận" in act(client, r.id, action="accept").text
    assert "đang xử lý" in outbox(app, "dan-1")[-1].payload["text"]

    act(client, r.id, action="ask", note="Bạn cho biết rác ở bên trái hay bên phải kiệt?")
    last = outbox(app, "dan-1")[-1].payload
    assert "bên trái hay bên phải" in last["text"] and last["buttons"][0]["data"] == f"pareply:{r.id}"

    # a missing note is refused with a message, nothing changes
    assert "Bạn nhập kết quả" in act(client, r.id, action="resolve", note="").text
    bad = act(client, r.id, action="resolve", note="Đã dọn", files={"photo": ("x.txt", b"hello", "text/plain")})
    assert "Chỉ nhận ảnh" in bad.text
    done = act(client, r.id, action="resolve", note="Đã thu gom sạch, nhắc các hộ đổ đúng giờ",
               files={"photo": ("sau.jpg", JPEG, "image/jpeg")})
    assert "xử lý xong" in done.text
    msg = outbox(app, "dan-1")[-1].payload
    assert "Đã thu gom sạch" in msg["text"] and msg["photo"] and len(msg["buttons"]) == 6  # rating stars, "Chưa xử lý xong"
    with app.db.session() as s:
        r2 = s.get(Report, r.id)
        assert r2.status == "resolved" and r2.resolution_photo
        actions = [e.action for e in s.exec(select(ReportEvent).where(ReportEvent.report_id == r.id))]
        labels = {e.actor_label for e in s.exec(select(ReportEvent).where(ReportEvent.report_id == r.id))}
    assert actions == ["created", "accepted", "info_requested", "resolved"]
    assert "Nguyễn Thị Lan" in labels
    # closed reports offer no more actions, and a replayed form is refused politely
    assert "Tiếp nhận</button>" not in client.get(f"/admin/reports/{r.id}").text
    assert "không cần thao tác thêm" in act(client, r.id, action="reject", note="x").text
    # the resident reads the outcome in the web chat
    notes = client.get("/api/messages/dan-1/notifications")
    if notes.status_code == 200:
        assert any("Đã thu gom sạch" in n["text"] for n in notes.json()["replies"])


def test_reject_and_transfer(client, app):
    open311(client, description="Đèn đường hỏng trước số 8 Bạch Đằng", service_code="chieu-sang")
    with app.db.session() as s:
        r = s.exec(select(Report)).one()
    other = next(u for u in app.profile.units if u.id != r.unit_id)
    assert "Đã chuyển" in act(client, r.id, action="transfer", unit=other.id, note="đúng thẩm quyền").text
    assert "Bạn chọn một đơn vị khác" in act(client, r.id, action="transfer", unit="khong-co").text
    with app.db.session() as s:
        assert s.get(Report, r.id).unit_id == other.id
    assert "Bạn nhập lý do" in act(client, r.id, action="reject", note="").text
    assert "không xử lý" in act(client, r.id, action="reject", note="Thuộc điện lực, đã báo điện lực").text
    with app.db.session() as s:
        assert s.get(Report, r.id).status == "rejected"
    assert "Thao tác không hợp lệ" not in act(client, r.id, action="nonsense").text  # already closed


def test_assign_to_a_staff_member(client, app):
    open311(client)
    make_account(app, "minh", "staff", name="Trần Minh")
    with app.db.session() as s:
        r = s.exec(select(Report)).one()
    page = client.get(f"/admin/reports/{r.id}").text
    assert "Trần Minh" in page
    pid = page.split('>Trần Minh<')[0].rsplit('value="', 1)[1].split('"')[0]
    assert "Đã giao" in act(client, r.id, action="assign", assignee=pid).text
    assert "không phải cán bộ" in act(client, r.id, action="assign", assignee="99999").text
    with app.db.session() as s:
        assert s.get(Report, r.id).status == "assigned"


def test_handoff_answered_from_back_office(client, app):
    resident = Chat(app, "dan-2", name="Phạm Thị Hỏi")
    resident.say("/hoicanbo Phường có tổ chức lớp dạy bơi cho trẻ em hè này không?")
    resident.press("handoff:keep")
    resident.press("handoff:skip")
    resident.press("handoff:send")
    page = client.get("/admin/unanswered")
    assert "lớp dạy bơi" in page.text
    with app.db.session() as s:
        h = s.exec(select(Handoff)).one()
    r = client.post(f"/admin/handoffs/{h.id}/answer", data={"csrf": csrf_of(page.text), "answer": ""},
                    follow_redirects=True)
    assert "Bạn nhập nội dung" in r.text
    r = client.post(f"/admin/handoffs/{h.id}/answer",
                    data={"csrf": csrf_of(page.text), "answer": "Có, đăng ký tại nhà văn hoá từ 1/6."},
                    follow_redirects=True)
    assert "Đã gửi trả lời" in r.text
    assert "nhà văn hoá từ 1/6" in outbox(app, "dan-2")[-1].payload["text"]
    assert "lớp dạy bơi" not in client.get("/admin/unanswered").text.split("Câu Trợ lý")[0]


def test_dashboard_and_audit(client, app):
    open311(client)
    page = client.get("/admin/")
    assert page.status_code == 200 and "<svg" in page.text and "Tổng quan" in page.text
    assert client.get("/admin/?month=garbage").status_code == 200
    assert client.get("/admin/?month=2026-02").status_code == 200
    audit = client.get("/admin/audit")
    assert "staff_login" in audit.text and "report_created" in audit.text
    assert "report_created" not in client.get("/admin/audit?action=staff").text
