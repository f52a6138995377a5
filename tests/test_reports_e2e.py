"""A report from the resident's first message to the answer, on a simulated clock, with a restart."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.core import Location
from bot.models import AuditEvent, ScheduledTask
from handlers.reports.models import Report, ReportEvent
from scheduler.core import run_due
from tests.conftest import Chat
from tests.reports_helpers import FakeNLU, StaffChat, code_in, make_staff, outbox, photo

NEAR_CENTRE = Location(16.0671, 108.2231)


@pytest.fixture
def nlu(understander):
    return FakeNLU(understander)


def test_report_lifecycle_with_reminder_escalation_restart_and_rating(make_app, clock, nlu, tmp_path):
    a1 = make_app(understander=nlu)
    make_staff(a1, clock)
    res = Chat(a1, "res-1", name="Trần Thị B")

    # intake: free text -> category recognised and confirmed -> photo -> location -> group -> contact
    replies = res.say("Đầu kiệt 45 Lê Lợi rác đổ thành đống mấy ngày nay chưa ai dọn")
    assert "Rác thải" in replies[-1].text and [b.data for b in replies[-1].buttons] == [
        "phananh:catok", "phananh:catlist"]
    assert "ảnh" in res.text(button="phananh:catok")
    assert "Đã nhận 1 ảnh" in res.text(photos=[photo(tmp_path)])
    assert "vị trí" in res.text(button="phananh:photodone")
    replies = res.say(location=NEAR_CENTRE)
    assert "tổ dân phố" in replies[-1].text and any(b.data == "phananh:grp:tdp-02" for b in replies[-1].buttons)
    assert "số điện thoại" in res.text(button="phananh:grp:tdp-02")
    assert "công khai" in res.text("0905 123 456")
    summary = res.text(button="phananh:pub:no")
    assert "Rác thải" in summary and "Ảnh: 1" in summary and "0905123456" in summary
    out = res.text(button="phananh:send")
    code = code_in(out)
    assert code == "PA-2026-000001" and "Phòng Kinh tế, Hạ tầng và Đô thị" in out

    # routing: the unit's staff chat gets a card with the photo and the action buttons
    (card,) = outbox(a1, "-1001000000001", "report:1:card")
    assert card.payload["photo"].endswith("hien-truong.jpg")
    assert code in card.payload["text"] and "45 Lê Lợi" in card.payload["text"]
    assert "0905123456" in card.payload["text"] and "Tổ dân phố 2" in card.payload["text"]
    assert {b["data"] for b in card.payload["buttons"]} == {"pa:acc:1", "pa:asg:1", "pa:ask:1", "pa:res:1",
                                                           "pa:tr:1", "pa:rej:1"}

    # restart in the middle: a new process on the same database
    a1.close()
    a2 = make_app(understander=nlu)
    assert run_due(a2, prefix="report:") == 0
    clock.advance(hours=24)  # rac-thai: 24 h to accept
    assert run_due(a2, prefix="report:") == 1
    (reminder,) = outbox(a2, "-1001000000001", "report:1:remind")
    assert reminder.dedupe_key == "report:1:remind" and "Nhắc việc" in reminder.payload["text"]
    assert run_due(a2, prefix="report:") == 0 and len(outbox(a2, "-1001000000001", "report:1:remind")) == 1  # never twice
    assert not outbox(a2, "-1001000000020")
    clock.advance(hours=24)  # 2x SLA and still not handled: the ward leadership is told
    assert run_due(a2, prefix="report:") == 1
    (esc,) = outbox(a2, "-1001000000020")
    assert esc.dedupe_key == "report:1:escalate" and code in esc.payload["text"] and "quá hạn" in esc.payload["text"]

    # staff act from the unit chat on the restarted app
    staff = StaffChat(a2)
    assert "đã tiếp nhận" in staff.text(button="pa:acc:1")
    assert "kết quả xử lý" in staff.text(button="pa:res:1")
    assert "ảnh sau khi xử lý" in staff.text("Đã điều xe thu gom, khu vực đã sạch.")
    assert "xử lý xong" in staff.text(button="pastaff:skip")

    notes = [m.payload for m in outbox(a2, "res-1")]
    assert "đang xử lý" in notes[0]["text"]
    assert "đã được xử lý xong" in notes[1]["text"] and "Đã điều xe thu gom" in notes[1]["text"]
    assert [b["data"] for b in notes[1]["buttons"]] == [f"parate:1:{n}" for n in range(1, 6)] + ["paredo:1"]
    with a2.db.session() as s:
        pending = s.exec(select(ScheduledTask).where(ScheduledTask.status == "pending", ScheduledTask.key.startswith("report:"))).all()
        assert [t.key for t in pending] == ["report:1:autoclose"]  # reminders cancelled when handled

    # the resident rates and comments; the report closes
    assert "góp ý" in res.__class__(a2, "res-1").text(button="parate:1:5")
    assert "Đã ghi nhận góp ý" in Chat(a2, "res-1").text("Cảm ơn phường xử lý nhanh")
    assert "đã đánh giá" in Chat(a2, "res-1").text(button="parate:1:4")
    with a2.db.session() as s:
        r = s.exec(select(Report)).one()
        assert (r.status, r.rating, r.rating_comment) == ("closed", 5, "Cảm ơn phường xử lý nhanh")
        events = s.exec(select(ReportEvent).order_by(ReportEvent.id)).all()
        assert [e.action for e in events] == ["created", "reminded", "escalated", "accepted", "resolved",
                                              "rated", "closed", "commented"]
        assert [e.to_status for e in events if e.to_status] == ["new", "in_progress", "resolved", "closed"]
        assert all(e.at.tzinfo is not None for e in events)
        staff_id = events[3].actor_id
        assert staff_id and events[4].actor_id == staff_id
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "report_resolved")).one().object_id == "1"
    assert "đã đóng" in Chat(a2, "res-1").text(f"/tinhtrang {code}")


def test_events_are_append_only(make_app, clock, nlu):
    """Each change adds a row; earlier rows are never touched."""
    app = make_app(understander=nlu)
    staff = make_staff(app, clock)
    Chat(app, "r").say("/ghiphananh")  # residents cannot record
    staff.say("/ghiphananh 1022 | rac-thai | tdp-01 | 7 Bạch Đằng | Rác tràn ra đường | 0905111222")
    with app.db.session() as s:
        before = [(e.id, e.action, e.at, e.note) for e in s.exec(select(ReportEvent))]
    clock.advance(minutes=5)
    staff.press("pa:acc:1")
    staff.press("pa:rej:1")
    staff.say("Đã có kế hoạch thu gom định kỳ, không cần xử lý riêng.")
    with app.db.session() as s:
        after = [(e.id, e.action, e.at, e.note) for e in s.exec(select(ReportEvent).order_by(ReportEvent.id))]
    assert after[:len(before)] == before
    assert [a for _, a, _, _ in after[len(before):]] == ["accepted", "rejected"]


def test_quiet_hours_shift_non_urgent_reminders_but_not_urgent_ones(make_app, clock, nlu):
    app = make_app(understander=nlu)
    staff = make_staff(app, clock)
    clock.set(datetime(2026, 11, 23, 23, 0))  # a report phoned in late at night
    staff.say("/ghiphananh 1022 | rac-thai | tdp-01 | 7 Bạch Đằng | Rác tràn ra đường")
    staff.say("/ghiphananh 1022 | tieng-on | tdp-01 | 9 Bạch Đằng | Karaoke ồn ào quá khuya")
    with app.db.session() as s:
        fire = {t.key: t.fire_at for t in s.exec(select(ScheduledTask).where(ScheduledTask.key.startswith("report:")))}
    local = lambda d: d.astimezone(clock.local().tzinfo).replace(tzinfo=None)  # noqa: E731
    # rac-thai (24 h) would be due at 23:00 tomorrow: moved to 06:00 the day after
    assert local(fire["report:1:remind"]) == datetime(2026, 11, 25, 6, 0)
    # the cards too: the non-urgent one waits for the morning, the urgent one goes at once
    assert local(outbox(app, "-1001000000001", "report:1:card")[0].not_before) == datetime(2026, 11, 24, 6, 0)
    assert local(outbox(app, "-1001000000002", "report:2:card")[0].not_before) == datetime(2026, 11, 23, 23, 0)
    # tieng-on (4 h) is urgent: the reminder goes at 03:00, at night
    assert local(fire["report:2:remind"]) == datetime(2026, 11, 24, 3, 0)
    clock.set(datetime(2026, 11, 24, 3, 0))
    assert run_due(app, prefix="report:") == 1
    (urgent,) = outbox(app, "-1001000000002", "report:2:remind")
    assert local(urgent.not_before) == datetime(2026, 11, 24, 3, 0)
    clock.set(datetime(2026, 11, 24, 23, 30))
    run_due(app, prefix="report:")  # (the urgent report's escalation is due by now)
    assert outbox(app, "-1001000000002", "report:2:escalate") and not outbox(app, "-1001000000001", "report:1:remind")
    clock.set(datetime(2026, 11, 25, 6, 0))
    run_due(app, prefix="report:")  # the non-urgent one went in the morning
    assert len(outbox(app, "-1001000000001", "report:1:remind")) == 1


def test_reminders_are_caught_up_once_after_downtime_and_held_until_morning(make_app, clock, nlu):
    a1 = make_app(understander=nlu)
    staff = make_staff(a1, clock)
    staff.say("/ghiphananh hop | rac-thai | tdp-03 | 3 Hùng Vương | Bãi rác tự phát cạnh chợ")
    a1.close()
    clock.set(datetime(2026, 11, 24, 23, 30))  # the server was down past the reminder time (09:00)
    a2 = make_app(understander=nlu)
    assert run_due(a2, prefix="report:") == 1 and run_due(a2, prefix="report:") == 0
    (late,) = outbox(a2, "-1001000000001", "report:1:remind")
    local = late.not_before.astimezone(clock.local().tzinfo)
    assert (local.date().day, local.hour) == (25, 6)  # caught up, but not sent in the night


def test_handled_report_cancels_its_reminders(make_app, clock, nlu):
    app = make_app(understander=nlu)
    staff = make_staff(app, clock)
    staff.say("/ghiphananh 1022 | rac-thai | tdp-01 | 7 Bạch Đằng | Rác tràn ra đường")
    staff.press("pa:acc:1")
    clock.advance(hours=25)
    assert run_due(app, prefix="report:") == 0  # accepted: no reminder
    staff.press("pa:res:1")
    staff.say("Đã thu gom xong")
    staff.say(button="pastaff:skip")
    clock.advance(days=3)
    assert run_due(app, prefix="report:") == 0  # resolved: no escalation either
    assert not outbox(app, "-1001000000020")
    clock.advance(days=5)
    assert run_due(app, prefix="report:") == 1  # only the auto-close after 7 days
    with app.db.session() as s:
        assert s.get(Report, 1).status == "closed"
