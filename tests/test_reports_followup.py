"""Issue 12 point 7: following a report through: transfer to another unit (chat and back office
through one service function), reopening on a low rating or "chưa xử lý xong"."""
from __future__ import annotations

import pytest
from sqlmodel import select

from bot.core import Location
from handlers.reports.models import Report, ReportEvent
from tests.conftest import Chat
from tests.reports_helpers import FakeNLU, StaffChat, file_report, make_staff, outbox

NEAR = Location(16.0671, 108.2231)
KTHT_CHAT, CA_CHAT = "-1001000000001", "-1001000000002"


@pytest.fixture
def app(make_app, understander):
    return make_app(understander=FakeNLU(understander))


def _events(app, rid=1) -> list[str]:
    with app.db.session() as s:
        return [e.action for e in s.exec(select(ReportEvent).where(ReportEvent.report_id == rid)
                                         .order_by(ReportEvent.id))]


# ------------------------------------------------------------------------------ transfer

def test_staff_transfer_a_report_from_the_card_and_the_resident_is_told(app, clock):
    lan = make_staff(app, clock)
    file_report(Chat(app, "r1"), "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    file_report(Chat(app, "r2"), "Bãi rác bốc mùi đầu kiệt Lê Lợi", location=NEAR)  # a duplicate
    (card,) = outbox(app, KTHT_CHAT, "report:1:card")
    assert "pa:tr:1" in {b["data"] for b in card.payload["buttons"]}
    replies = lan.say(button="pa:tr:1")
    units = {b.text: b.data for b in replies[-1].buttons}
    assert set(units) == {"Công an phường", "Phòng Văn hóa - Xã hội phường"}  # not its own unit
    assert "ghi chú" in lan.text(button=units["Công an phường"])
    # a resident or another staff member cannot finish somebody else's transfer
    assert "dành cho cán bộ" in StaffChat(app, user_id="r9").text(button="pa:tru:1:ca")
    assert "Đã chuyển phản ánh PA-2026-000001 cho Công an phường" in lan.text("Đổ trộm rác, cần lập biên bản")
    with app.db.session() as s:
        assert [r.unit_id for r in s.exec(select(Report).order_by(Report.id))] == ["ca", "ca"]
        ev = s.exec(select(ReportEvent).where(ReportEvent.action == "transferred")).one()
        assert ev.detail == {"from": "ktht", "to": "ca"} and ev.note == "Đổ trộm rác, cần lập biên bản"
    (card2,) = [m for m in outbox(app, CA_CHAT) if "chuyển từ" in m.payload["text"]]
    assert "Phòng Kinh tế" in card2.payload["text"] and "lập biên bản" in card2.payload["text"]
    assert "pa:acc:1" in {b["data"] for b in card2.payload["buttons"]}
    for chat_id in ("r1", "r2"):
        told = outbox(app, chat_id)[-1].payload["text"]
        assert "chuyển cho Công an phường" in told and "không được xử lý" not in told, told


def test_transfer_without_note_typed_options_and_guards(app, clock):
    lan = make_staff(app, clock)
    file_report(Chat(app, "r1"), "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    assert "đơn vị khác" in lan.text(button="pa:tru:1:ktht")  # its own unit
    assert "đơn vị khác" in lan.text(button="pa:tru:1:khong-co")
    lan.press("pa:tr:1")
    lan.say("2")  # typed number on the unit list (a group chat: numbers and exact labels only)
    assert "Đã chuyển" in lan.text(button="pastaff:skip")
    with app.db.session() as s:
        assert s.get(Report, 1).unit_id == "vhxh"
    assert "Phòng Văn hóa - Xã hội phường" in outbox(app, "r1")[-1].payload["text"]
    # a closed report cannot be transferred
    lan.press("pa:rej:1")
    lan.say("Không thuộc thẩm quyền")
    assert "không cần thao tác" in lan.text(button="pa:tr:1")
    assert _events(app).count("transferred") == 1


def test_staff_lose_the_role_mid_transfer(app, clock):
    from bot import roles as R
    from bot.models import RoleGrant
    lan = make_staff(app, clock)
    file_report(Chat(app, "r1"), "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    lan.press("pa:tr:1")
    lan.press("pa:tru:1:ca")
    with app.db.session() as s:
        for g in s.exec(select(RoleGrant).where(RoleGrant.role == R.STAFF)):
            g.revoked_at = clock.now()
            s.add(g)
        s.commit()
    lan.press("pastaff:skip")
    with app.db.session() as s:
        assert s.get(Report, 1).unit_id == "ktht"
    assert "transferred" not in _events(app)
