"""The shell: engine, state, roles, bad input, privacy."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.core import Incoming
from bot.models import AuditEvent, Conversation, Handoff, OutboxMessage, Person, RoleGrant
from tests.conftest import Chat


def test_start_greets_in_vietnamese_and_names_the_ward(chat):
    out = chat.text("/start")
    assert "Phường Hải Châu" in out and "phản ánh" in out and "/privacy" in out


def test_help_lists_commands_for_the_role(app):
    resident = Chat(app, "r1")
    text = resident.text("/help")
    assert "/privacy" in text and "/hoicanbo" in text
    assert "/hangcho" not in text  # staff-only commands stay hidden from residents


def test_privacy_notice_says_what_why_how_long(chat):
    out = chat.text("/privacy")
    assert "13/2023/NĐ-CP" in out and "30 ngày" in out and "/xoadulieu" in out


@pytest.mark.parametrize("text,expect", [
    ("", "chưa nhập nội dung"),
    ("   ", "chưa nhập nội dung"),
    ("a" * 4097, "dài quá"),
    ("\x00\x01\x02binary\x7f", "không đọc được"),
    ("abc\ufffd\ufffd", "không đọc được"),
    ("/khongcolenhnay", "chưa biết lệnh /khongcolenhnay"),
])
def test_bad_input_gets_a_clear_answer_and_the_next_message_works(chat, text, expect):
    assert expect in chat.text(text)
    assert "Phường Hải Châu" in chat.text("/start")


def test_text_of_exactly_the_limit_is_accepted(chat):
    assert "dài quá" not in chat.text("a " * 2048)


def test_duplicate_update_is_handled_once(app, chat):
    first = chat.say("/hoicanbo", update_id="u-1")
    again = chat.say("/hoicanbo", update_id="u-1")
    assert first and again == first  # handled once, answered with the original replies
    with app.db.session() as s:
        conv = s.exec(select(Conversation)).one()
        assert conv.flow == "handoff" and conv.step == "question"


def test_a_crash_in_a_handler_rolls_back_and_the_chat_goes_on(app, chat, monkeypatch):
    chat.say("/hoicanbo")
    chat.say("Tôi muốn hỏi về lệ phí chứng thực")  # step: contact

    def boom(ctx):
        raise RuntimeError("simulated bug")
    flow = app.router.flows["handoff"]
    monkeypatch.setattr(flow, "ask_confirm", boom)  # the step after the contact
    out = chat.text("0905123456")
    assert "trục trặc" in out and "giữ nguyên" in out
    monkeypatch.undo()
    with app.db.session() as s:
        conv = s.exec(select(Conversation)).one()
        assert conv.step == "contact" and conv.data["question"].startswith("Tôi muốn hỏi")
    assert "Xác nhận" in chat.text("0905123456")


def test_numbered_answers_press_the_buttons(app, chat):
    chat.say("/hoicanbo")
    chat.say("Hỏi về giờ làm việc thứ bảy")
    out = chat.text("1")  # "1. Bỏ qua"
    assert "Xác nhận gửi" in out
    assert "Đã gửi câu hỏi" in chat.text("gui")  # the option's words count as the press


def test_cancel_ends_a_form(app, chat):
    chat.say("/hoicanbo")
    assert "Đã hủy" in chat.text("/huy")
    assert "Không có" in chat.text("/huy") or "không có" in chat.text("/huy")


def test_stale_button_is_refused_politely(chat):
    assert "hết hiệu lực" in chat.text(button="handoff:send")
    assert "hết hiệu lực" in chat.text(button="nosuchprefix:1")


def test_invite_code_grants_role_once_and_roles_are_checked(app, clock):
    from bot import roles as R
    with app.db.session() as s:
        admin_code = R.create_invite(s, R.ADMIN, clock.now()).code
    admin, resident, other = Chat(app, "admin"), Chat(app, "res"), Chat(app, "other")
    assert "chỉ dùng được" not in admin.text(f"/nhapma {admin_code}")
    assert "một lần" in other.text(f"/nhapma {admin_code}")  # one-time
    assert "dành cho" in resident.text("/moi thanhvien tdp-01")  # residents cannot invite
    assert "dành cho" in resident.text("/hangcho")
    out = admin.text("/moi totruong tdp-02")
    code = out.split("Mã mời")[1].split(": ")[1].split()[0]
    assert "tổ trưởng" in resident.text(f"/nhapma {code.lower()}")
    assert "Tổ dân phố 2" in resident.text("/vaitro")
    # a team leader may not create staff
    assert "dành cho" in resident.text("/moi canbo")
    with app.db.session() as s:
        assert {g.role for g in s.exec(select(RoleGrant))} == {R.ADMIN, R.TEAM_LEADER}
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "role_granted")).all()


def test_expired_and_wrong_invite_codes(app, clock):
    from bot import roles as R
    with app.db.session() as s:
        code = R.create_invite(s, R.STAFF, clock.now(), valid_days=1).code
    clock.advance(days=2)
    c = Chat(app, "late")
    assert "hết hạn" in c.text(f"/nhapma {code}")
    assert "không đúng" in c.text("/nhapma ZZZZZZZZ")
    assert "kèm mã" in c.text("/nhapma")


def test_handoff_reaches_staff_and_the_answer_reaches_the_resident(app, clock):
    from bot import roles as R
    with app.db.session() as s:
        code = R.create_invite(s, R.STAFF, clock.now()).code
    staff, resident = Chat(app, "staff-1"), Chat(app, "res-1")
    staff.say(f"/nhapma {code}")
    resident.say("/hoicanbo")
    resident.say("Phường có làm việc sáng chủ nhật không?")
    resident.say("0905 123 456")
    assert "Đã gửi câu hỏi" in resident.text(button="handoff:send")
    queue = staff.text("/hangcho")
    assert "chủ nhật" in queue and "0905123456" in queue
    hid = queue.split("#")[1].split()[0]
    assert "Đã gửi trả lời" in staff.text(f"/traloi {hid} Chủ nhật phường nghỉ bạn nhé.")
    with app.db.session() as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == "res-1")).all()
        assert len(rows) == 1 and "Chủ nhật phường nghỉ" in rows[0].payload["text"]
        staff_notes = s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == "-1001000000010")).all()
        assert len(staff_notes) == 1
        assert s.get(Handoff, int(hid)).status == "answered"


def test_erase_my_data(app, chat):
    chat.say("/hoicanbo")
    chat.say("câu hỏi của tôi")
    chat.say("0905123456")
    chat.press("handoff:send")
    chat.say("/xoadulieu")
    assert "Đã xóa" in chat.text(button="erase:xoa")
    with app.db.session() as s:
        p = s.exec(select(Person)).one()
        assert p.display_name is None
        h = s.exec(select(Handoff)).one()
        assert h.person_id is None and h.contact is None


def test_erase_can_be_declined(chat):
    chat.say("/xoadulieu")
    assert "giữ nguyên" in chat.text(button="erase:no")


def test_a_form_survives_a_restart(make_app):
    a1 = make_app()
    Chat(a1, "r").say("/hoicanbo")
    Chat(a1, "r").say("Xin hỏi thủ tục tách hộ")
    a1.close()
    a2 = make_app()  # a new process on the same database
    out = Chat(a2, "r").text("0912345678")
    assert "Xin hỏi thủ tục tách hộ" in out and "0912345678" in out


def test_same_user_on_two_channels_are_two_people(app):
    Chat(app, "42", channel="telegram").say("/start")
    Chat(app, "42", channel="zalo").say("/start")
    with app.db.session() as s:
        assert len(s.exec(select(Person)).all()) == 2


def test_faq_question_gets_an_answer_with_legal_basis_and_ward_facts(chat):
    """Phone-sized first reply; the details (ward facts, legal basis last) on request."""
    first = chat.say("đăng ký khai sinh cho con cần giấy tờ gì")[0]
    assert "Căn cứ" not in first.text and first.buttons
    # the section buttons, then the rating pair ("Có ích" / "Chưa đúng ý") last
    assert [b.data.split(":")[:2] for b in first.buttons[-2:]] == [["fb", "yes"], ["fb", "no"]]
    details = [chat.text(button=b.data) for b in first.buttons[:-2]]
    everything = first.text + "\n".join(details)
    assert "Căn cứ pháp lý" in details[-1] and "Luật Hộ tịch" in details[-1]
    assert "Trung tâm Phục vụ hành chính công phường Hải Châu" in everything
    assert "{" not in everything  # every placeholder filled


def test_out_of_scope_small_talk_gets_no_handoff_but_staff_stay_reachable(chat):
    replies = chat.say("dự báo thời tiết ngày mai ở Hà Nội thế nào")
    assert not any(b.data == "handoffask:yes" for r in replies for b in r.buttons)
    assert "thủ tục hành chính" in replies[0].text
    out = chat.text("/hoicanbo dự báo thời tiết ngày mai ở Hà Nội thế nào")
    assert "Gửi nguyên câu này" in out


def test_one_personal_token_for_every_http_api(app, clock):
    """/matai (alias /tokenapi): a new token replaces the old, /matai huy revokes, it expires,
    and erasing one's data deletes it. Residents get none."""
    from bot import roles as R, tokens
    from bot.models import ApiToken
    with app.db.session() as s:
        code = R.create_invite(s, R.STAFF, clock.now()).code
    staff = Chat(app, "st")
    staff.say(f"/nhapma {code}")
    assert "dành cho" in Chat(app, "res").text("/matai")
    first = staff.text("/matai").split("\n")[1]
    second = staff.text("/tokenapi").split("\n")[1]
    with app.db.session() as s:
        pid = s.exec(select(Person).where(Person.chat_id == "st")).one().id
        assert tokens.person_for(s, first, clock.now()) is None
        assert tokens.person_for(s, second, clock.now()) == pid
        assert tokens.person_for(s, second, clock.now() + timedelta(days=91)) is None
    assert "thu hồi 1" in staff.text("/matai huy")
    third = staff.text("/matai").split("\n")[1]
    staff.say("/xoadulieu")
    staff.press("erase:xoa")
    with app.db.session() as s:
        assert tokens.person_for(s, third, clock.now()) is None
        assert s.exec(select(ApiToken)).all() == []


def test_hoicanbo_as_a_form_typed_and_its_question_is_never_answered_instead(app, chat):
    """/hoicanbo is a bot.forms.Form: the question typed is what staff get (a question's form is
    not set aside for the FAQ), "sửa lại" rewrites a prefilled question, "ko" skips the phone."""
    out = chat.text("/hoicanbo lệ phí chứng thực bản sao bao nhiêu?")
    assert "Gửi nguyên câu này" in out
    assert "nhập câu hỏi" in chat.text("sửa lại")
    assert "gọi lại" in chat.text("Cho hỏi làm khai sinh cần giấy tờ gì?")
    assert "chưa đúng" in chat.text("123")
    assert "không để lại" in chat.text("ko")
    assert "Đã gửi câu hỏi" in chat.text("gửi")
    with app.db.session() as s:
        h = s.exec(select(Handoff)).one()
        assert (h.question, h.contact) == ("Cho hỏi làm khai sinh cần giấy tờ gì?", None)


def test_the_staff_handoff_offer_mirrors_how_people_name_themselves(chat):
    """Issue 12 point 6: the offer was written twice in faq.py and the older copy (always "Bạn")
    shadowed the one that mirrors "bà", "bác"."""
    assert "Ý bà là" in chat.text("bà muốn xin giấy xác nhận gì đó ở phường mà chưa rõ làm ra sao")
    replies = chat.say(button="faq:none")  # "Không phải các ý trên"
    offer = next((r for r in replies if any(b.data == "handoffask:yes" for b in r.buttons)), None)
    assert offer is not None, [r.text for r in replies]
    assert "bà có muốn gửi câu hỏi này" in offer.text.lower() and "bạn" not in offer.text.lower()
    assert "Gửi nguyên câu này" in chat.text(button="handoffask:yes")
