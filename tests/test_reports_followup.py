"""Issue 12 point 7: following a report through: transfer to another unit (chat and back office
through one service function), reopening on a low rating or "chưa xử lý xong"."""
from __future__ import annotations

from datetime import timedelta

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


def test_an_accepted_report_starts_afresh_at_the_new_unit(app, clock):
    """Accepted and assigned by the wrong unit, then transferred: the new unit gets a card it can
    accept, the category's deadlines count from the transfer, and its reminders are its own."""
    from scheduler.core import run_due
    lan = make_staff(app, clock)
    file_report(Chat(app, "r1"), "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    lan.press("pa:acc:1")
    clock.advance(hours=40)
    lan.press("pa:tr:1")
    lan.press("pa:tru:1:ca")
    assert "Đã chuyển" in lan.text(button="pastaff:skip")
    r = _report(app)
    assert (r.unit_id, r.status, r.assignee_id) == ("ca", "new", None)
    assert r.resolve_by.replace(tzinfo=None) == (clock.now() + timedelta(hours=2 * r.sla_hours)).replace(tzinfo=None)
    (card,) = [m for m in outbox(app, CA_CHAT) if "chuyển từ" in m.payload["text"]]
    assert "pa:acc:1" in {b["data"] for b in card.payload["buttons"]}
    assert _pending_tasks(app) == ["report:1:r1:escalate", "report:1:r1:remind"]
    # the new unit is reminded when its own time to accept runs out, not the old unit
    clock.advance(hours=r.sla_hours + 10)  # reminders wait for working hours
    assert run_due(app, prefix="report:") == 1
    (remind,) = [m for m in outbox(app, CA_CHAT) if "Nhắc việc" in m.payload["text"]]
    assert not [m for m in outbox(app, KTHT_CHAT) if "Nhắc việc" in m.payload["text"]]


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


# ------------------------------------------------------------------------------ reopen

def _resolve(staff: StaffChat, rid=1, note="Đã thu gom") -> None:
    staff.press(f"pa:res:{rid}")
    staff.say(note)
    assert "xử lý xong" in staff.text(button="pastaff:skip")


def _report(app, rid=1) -> Report:
    with app.db.session() as s:
        return s.get(Report, rid)


def _pending_tasks(app) -> list[str]:
    from bot.models import ScheduledTask
    with app.db.session() as s:
        return sorted(t.key for t in s.exec(select(ScheduledTask).where(ScheduledTask.status == "pending",
                                                                          ScheduledTask.key.startswith("report:"))))


def test_low_rating_reopens_with_a_fresh_deadline_and_a_second_round(app, clock):
    from scheduler.core import run_due
    lan = make_staff(app, clock)
    res = Chat(app, "r1")
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    lan.press("pa:acc:1")
    clock.advance(hours=30)
    _resolve(lan)
    notice = outbox(app, "r1")[-1].payload
    assert "Chưa xử lý xong" in notice["text"] and notice["buttons"][-1]["data"] == "paredo:1"
    assert _pending_tasks(app) == ["report:1:autoclose"]

    out = res.text(button="parate:1:2")
    assert "chuyển lại phản ánh PA-2026-000001 cho Phòng Kinh tế" in out and "không được xử lý" not in out
    r = _report(app)
    assert (r.status, r.rating, r.resolved_at) == ("in_progress", None, None)
    assert r.resolve_by.replace(tzinfo=None) == (clock.now() + timedelta(hours=48)).replace(tzinfo=None)
    assert _events(app)[-2:] == ["rated", "reopened"]
    assert _pending_tasks(app) == ["report:1:r1:escalate"]
    card = outbox(app, KTHT_CHAT, "report:1:reopen:")[-1].payload
    assert "Người dân báo chưa xử lý xong" in card["text"] and "★★" in card["text"]
    assert "pa:res:1" in {b["data"] for b in card["buttons"]}
    # the resident's words follow to the unit chat
    assert "Đã chuyển ý kiến" in res.text("Mới dọn một nửa, vẫn còn đống rác ở góc kiệt")
    assert "vẫn còn đống rác" in outbox(app, KTHT_CHAT)[-1].payload["text"]

    # the new deadline is watched again (its own outbox key: the first round's escalation was sent)
    clock.advance(hours=49)
    assert run_due(app, prefix="report:") == 1
    (esc,) = outbox(app, "-1001000000020", "report:1:r1:escalate")
    assert "quá hạn" in esc.payload["text"]
    assert "report:1:r1:followup:1" in _pending_tasks(app)

    # a second resolve asks for a new rating; a good one closes the report
    _resolve(lan, note="Đã dọn sạch toàn bộ")
    assert _pending_tasks(app) == ["report:1:r1:autoclose"]
    again = outbox(app, "r1")[-1].payload
    assert "Đã dọn sạch toàn bộ" in again["text"] and again["buttons"][4]["data"] == "parate:1:5"
    assert "góp ý" in res.text(button="parate:1:5")
    r = _report(app)
    assert (r.status, r.rating) == ("closed", 5)
    assert [e for e in _events(app) if e in ("resolved", "reopened", "rated")] == [
        "resolved", "rated", "reopened", "resolved", "rated"]


def test_typed_not_done_after_the_resolved_notice_reopens_with_the_words(app, clock):
    lan = make_staff(app, clock)
    res = Chat(app, "r1")
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    _resolve(lan)
    res.say("làm căn cước ở đâu")  # something else in between: the notice's options stay open
    res.say("không")
    assert _report(app).status == "resolved"  # a bare "không" is not "chưa xử lý xong"
    out = res.text("vẫn còn rác ở đầu kiệt, xe rác chưa tới")
    assert "chuyển lại" in out and "Bỏ qua" not in out  # the words came with it: nothing more to ask
    assert _report(app).status == "in_progress"
    card = outbox(app, KTHT_CHAT, "report:1:reopen:")[-1].payload
    assert "xe rác chưa tới" in card["text"]
    # pressing it again while the unit works on it
    assert "đang được" in res.text(button="paredo:1")
    assert _events(app).count("reopened") == 1


@pytest.mark.parametrize("typed", ["chưa xong", "Chưa xử lý xong", "vẫn chưa", "6"])
def test_typed_forms_of_not_done(app, clock, typed):
    lan = make_staff(app, clock)
    res = Chat(app, "r1", channel="zalo")
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    _resolve(lan)
    assert "chuyển lại" in res.text(typed)
    assert _report(app).status == "in_progress"


@pytest.mark.parametrize("typed,channel", [("xong", "web"), ("xong", "zalo"), ("chưa", "web"), ("xử lý", "zalo")])
def test_a_word_of_the_label_is_not_not_done(app, clock, typed, channel):
    """"xong" (done!) was read as the button "Chưa xử lý xong" (every typed word is in its label)
    and reopened the report; such a button is chosen only by its own phrases or its whole label."""
    lan = make_staff(app, clock)
    res = Chat(app, "r1", channel=channel)
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    _resolve(lan)
    assert "chuyển lại" not in res.text(typed)
    assert _report(app).status == "resolved"


def test_good_rating_with_a_comment_stays_closed(app, clock):
    lan = make_staff(app, clock)
    res = Chat(app, "r1")
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    _resolve(lan)
    assert "góp ý" in res.text(button="parate:1:3")
    assert "Đã ghi nhận góp ý" in res.text("Xử lý hơi chậm")
    r = _report(app)
    assert (r.status, r.rating, r.rating_comment) == ("closed", 3, "Xử lý hơi chậm")
    assert "reopened" not in _events(app) and not outbox(app, KTHT_CHAT, "report:1:reopen:")


def test_a_duplicate_reopens_the_main_report_and_rejected_ones_cannot_be_reopened(app, clock):
    lan = make_staff(app, clock)
    file_report(Chat(app, "r1"), "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    file_report(Chat(app, "r2"), "Bãi rác bốc mùi đầu kiệt Lê Lợi", location=NEAR)
    _resolve(lan)
    assert "chuyển lại" in Chat(app, "r2").text(button="paredo:2")
    assert (_report(app, 1).status, _report(app, 2).status) == ("in_progress", "in_progress")
    card = outbox(app, KTHT_CHAT, "report:1:reopen:")[-1].payload
    assert "PA-2026-000001" in card["text"] and "PA-2026-000002" in card["text"]
    assert "chuyển lại" not in outbox(app, "r1")[-1].payload["text"]  # the other resident is not disturbed
    lan.press("pa:rej:1")
    lan.say("Khu vực thuộc dự án, chủ đầu tư tự thu gom")
    assert "không mở lại được" in Chat(app, "r1").text(button="paredo:1")
    assert "chưa xử lý xong nên chưa đánh giá" in Chat(app, "r1").text(button="parate:1:1")
    assert _report(app, 1).status == "rejected"


# ------------------------------------------------------------------------------ channels

def _wait_for(get_texts, needle: str, timeout: float = 20) -> str:
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        hit = [t for t in get_texts() if needle in t]
        if hit:
            return hit[-1]
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in {get_texts()}")


@pytest.fixture
def emus():
    from tests.emulators.telegram import TelegramEmulator
    from tests.emulators.zalo import ZaloEmulator
    tg, zl = TelegramEmulator().start(), ZaloEmulator().start()
    yield tg, zl
    tg.stop()
    zl.stop()


def test_transfer_and_reopen_on_telegram_staff_chats_and_zalo(make_app, settings, clock, emus):
    from bot import roles as R
    from handlers.reports import service as RS
    from tests.channel_helpers import Running
    tg, zl = emus
    with Running(make_app, settings, telegram=tg, zalo=zl) as run:
        app = run.app
        with app.db.session() as s:
            code = R.create_invite(s, R.STAFF, clock.now()).code
            s.commit()
        tg.text(777, f"/nhapma {code}", user_id=777)
        tg.wait_sent(777, 1)
        zl.text("zu-7", "xin chào")
        zl.wait_sent("zu-7", 1)
        with app.db.session() as s:
            from bot.models import Person
            person = s.exec(select(Person).where(Person.chat_id == "zu-7")).one()
            r = RS.create_report(app, s, clock.now(), category="rac-thai", description="Rác đổ trộm đầu kiệt 9",
                                 address="kiệt 9 Lê Lợi", person=person, channel="zalo", chat_id="zu-7")
            s.commit()
            rid = r.id
        app.wake_outbox()
        ktht, ca = int(KTHT_CHAT), int(CA_CHAT)
        _wait_for(lambda: tg.texts(ktht), "Phản ánh mới")
        clock.advance(minutes=5)  # the list below is newer than the card: "1" is its first unit
        # staff transfer from the Telegram unit chat: a typed number picks the unit
        tg.press(ktht, f"pa:tr:{rid}", user_id=777)
        _wait_for(lambda: tg.texts(ktht), "cho đơn vị nào")
        tg.text(ktht, "1", user_id=777)
        _wait_for(lambda: tg.texts(ktht), "ghi chú cho Công an phường")
        tg.text(ktht, "Đổ trộm, cần công an xử phạt", user_id=777)
        _wait_for(lambda: tg.texts(ktht), "Đã chuyển phản ánh")
        app.wake_outbox()
        assert "công an xử phạt" in _wait_for(lambda: tg.texts(ca), "chuyển từ")
        told = _wait_for(lambda: zl.texts("zu-7"), "chuyển cho Công an phường")
        assert "không được xử lý" not in told
        # the new unit resolves; the Zalo resident types "vẫn còn..." (no buttons on Zalo)
        tg.press(ca, f"pa:res:{rid}", user_id=777)
        _wait_for(lambda: tg.texts(ca), "kết quả xử lý")
        tg.text(ca, "Đã nhắc nhở, dọn sạch", user_id=777)
        _wait_for(lambda: tg.texts(ca), "ảnh sau khi xử lý")
        tg.press(ca, "pastaff:skip", user_id=777)
        app.wake_outbox()
        notice = _wait_for(lambda: zl.texts("zu-7"), "đã được xử lý xong")
        assert "6. Chưa xử lý xong" in notice
        zl.text("zu-7", "vẫn còn rác, chưa ai dọn cả")
        assert "cho Công an phường" in _wait_for(lambda: zl.texts("zu-7"), "chuyển lại")
        app.wake_outbox()
        card = _wait_for(lambda: tg.texts(ca), "Người dân báo chưa xử lý xong")
        assert "chưa ai dọn cả" in card
        with app.db.session() as s:
            assert s.get(Report, rid).status == "in_progress"


def test_an_old_button_months_later_does_not_reopen(app, clock):
    lan = make_staff(app, clock)
    res = Chat(app, "r1")
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    _resolve(lan)
    clock.advance(days=31)
    assert "gửi phản ánh mới" in res.text(button="paredo:1")
    assert "góp ý" in res.text(button="parate:1:1")  # the rating is kept; the report stays closed
    r = _report(app)
    assert (r.status, r.rating) == ("closed", 1) and "reopened" not in _events(app)


def test_a_sentence_typed_in_a_form_is_not_taken_for_an_older_notice(app, clock):
    lan = make_staff(app, clock)
    res = Chat(app, "r1")
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    res.say("/phananh")  # a new report form is open
    clock.advance(minutes=2)
    _resolve(lan)  # the resolved notice of the first report arrives meanwhile
    clock.advance(minutes=2)
    res.say("Vẫn còn rác đổ trộm ở bãi đất trống đường Hùng Vương")  # the new report's description
    assert _report(app).status == "resolved" and "reopened" not in _events(app)
    assert "chuyển lại" in res.text(button="paredo:1")  # the button itself still works


# ------------------------------------------------------------------------------ the staff wizards as a Form

def test_staff_typed_notes_are_the_answer_never_a_question_nor_a_skip(app, clock):
    """What staff type is for the resident: a question to ask is sent, not answered by the FAQ; a
    transfer note starting with "không" is a note; "bỏ qua" typed alone skips; "ko có ảnh" too."""
    lan = make_staff(app, clock)
    file_report(Chat(app, "r1"), "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    lan.press("pa:ask:1")
    assert "Đã gửi câu hỏi" in lan.text("Cho hỏi làm khai sinh cần giấy tờ gì, số nhà chính xác là bao nhiêu?")
    assert "số nhà chính xác" in outbox(app, "r1")[-1].payload["text"]
    lan.press("pa:tr:1")
    lan.press("pa:tru:1:ca")
    assert "Đã chuyển" in lan.text("không thuộc thẩm quyền phòng, chuyển công an")
    with app.db.session() as s:
        assert s.exec(select(ReportEvent).where(ReportEvent.action == "transferred")).one().note == \
            "không thuộc thẩm quyền phòng, chuyển công an"
    lan.press("pa:tr:1")
    lan.press("pa:tru:1:vhxh")
    assert "Đã chuyển" in lan.text("bỏ qua")
    lan.press("pa:res:1")
    assert "gửi ảnh" in lan.text("Đã thu gom xong")
    assert "gửi ảnh, hoặc bấm Bỏ qua" in lan.text("chưa có")
    assert "xử lý xong" in lan.text("ko có ảnh")
    r = _report(app)
    assert (r.status, r.unit_id) == ("resolved", "vhxh")
