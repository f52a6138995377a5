"""Words for a person after a report (issue 12, points 3 and 8): a resident's answer to a staff
question and the comment after a rating, as Forms. The answer reaches staff once per question
however often "Trả lời cán bộ" is pressed or typed; a clearly new question typed there is answered,
never swallowed, and the resident chooses whether staff get it too. Through the engine and the
Telegram and Zalo emulators."""
from __future__ import annotations

import pytest
from sqlmodel import select

from bot.core import Location
from handlers.reports.models import Report, ReportEvent
from tests.channel_helpers import await_text
from tests.conftest import Chat
from tests.reports_helpers import FakeNLU, file_report, make_staff, outbox

NEAR = Location(16.0671, 108.2231)
UNIT = "-1001000000001"
QUESTION = "cho hỏi làm căn cước ở đâu"


@pytest.fixture
def app(make_app, understander):
    return make_app(understander=FakeNLU(understander))


def _asked(app, clock, res: Chat, question="Rác ở phía bên trái hay bên phải kiệt?"):
    staff = make_staff(app, clock)
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    staff.press("pa:ask:1")
    staff.say(question)
    return staff


def _answers(app) -> list[str]:
    """What the unit chat was sent as the resident's answers."""
    return [m.payload["text"].split("Thông tin bổ sung: ", 1)[1] for m in outbox(app, UNIT)
            if "Thông tin bổ sung: " in m.payload["text"]]


def _received(app) -> int:
    with app.db.session() as s:
        return len(s.exec(select(ReportEvent).where(ReportEvent.action == "info_received")).all())


# --- pressed again: the same prompt, one answer --------------------------------------------------------
def test_pressing_reply_to_staff_twice_opens_one_prompt_and_one_answer_reaches_staff(app, clock):
    res = Chat(app, "r1")
    staff = _asked(app, clock, res)
    assert "thông tin bổ sung" in res.text(button="pareply:1")
    assert "thông tin bổ sung" in res.text(button="pareply:1")  # the same prompt, not "điền dở"
    assert "Đã chuyển" in res.text("Bên trái, cạnh cột điện")
    assert "đã trả lời câu hỏi" in res.text(button="pareply:1")  # answered: nothing opens
    res.say("Bên trái")  # nor does a later text become a second answer on its own
    assert _answers(app) == ["Bên trái, cạnh cột điện"] and _received(app) == 1
    # a new staff question may be answered again
    staff.press("pa:ask:1")
    staff.say("Rác có mùi không?")
    assert "thông tin bổ sung" in res.text(button="pareply:1")
    assert "Đã chuyển" in res.text("Có mùi")
    assert _answers(app) == ["Bên trái, cạnh cột điện", "Có mùi"]
    with app.db.session() as s:
        asked = [e.id for e in s.exec(select(ReportEvent).where(ReportEvent.action == "info_requested"))]
        got = [e.detail["question"] for e in s.exec(select(ReportEvent).where(ReportEvent.action == "info_received"))]
    assert got == asked  # each answer names the question it answers


def test_typing_the_button_again_on_a_text_channel_is_not_the_answer(app, clock):
    res = Chat(app, "z1", channel="zalo")
    _asked(app, clock, res)
    assert "thông tin bổ sung" in res.text("1")  # "1. Trả lời cán bộ" of the staff question
    assert "thông tin bổ sung" in res.text("1")  # typed again: the same prompt, "1" goes nowhere
    assert "thông tin bổ sung" in res.text("trả lời cán bộ")
    assert "Đã chuyển" in res.text("Bên phải")
    assert _answers(app) == ["Bên phải"]


# --- a clearly new question at the answer prompt ---------------------------------------------------
def test_a_new_question_after_a_staff_question_is_answered_and_the_resident_chooses(app, clock):
    res = Chat(app, "r1")
    _asked(app, clock, res)
    replies = res.say(QUESTION)  # typed straight after the staff question
    assert "Căn cước" in replies[0].text or "căn cước" in replies[0].text  # answered
    assert "Gửi luôn tin nhắn vừa rồi cho cán bộ?" in replies[-1].text
    assert _answers(app) == []  # not sent on a guess
    assert "Đã chuyển" in res.text("1")  # "Gửi cho cán bộ": it was for staff after all
    assert _answers(app) == [QUESTION]
    assert "đã trả lời" in res.text(button="pareply:1")


def test_after_a_new_question_the_real_answer_still_reaches_staff(app, clock):
    res = Chat(app, "r1")
    _asked(app, clock, res)
    res.press("pareply:1")
    assert "Gửi luôn tin nhắn vừa rồi" in res.say(QUESTION)[-1].text
    assert "thông tin bổ sung" in res.text("trả lời khác")
    assert "Đã chuyển" in res.text("Bên trái, sát cột điện số 12")
    assert _answers(app) == ["Bên trái, sát cột điện số 12"]
    assert "không còn hiệu lực" in res.text(button="padraft:1")  # the draft went with the choice


def test_after_a_new_question_pressing_reply_again_or_a_complaint_is_still_the_answer(app, clock):
    res = Chat(app, "r1")
    _asked(app, clock, res)
    res.say(QUESTION)
    assert "thông tin bổ sung" in res.text(button="pareply:1")  # the notice's button: the prompt again
    res.say("/huy")
    res.say(QUESTION)  # asked again: now without a prompt open or a route
    # a message that reads like a report: the staff question is still awaited, so ask
    assert "trả lời cho cán bộ, hay một phản ánh mới" in res.say("Rác ở cạnh cột điện, bốc mùi lắm mấy hôm nay")[-1].text
    with app.db.session() as s:
        assert len(s.exec(select(Report)).all()) == 1


def test_an_answer_that_asks_back_still_goes_to_staff(app, clock):
    res = Chat(app, "r1")
    _asked(app, clock, res)
    assert "Đã chuyển" in res.text("bên phải, gần nhà số 5 có được không")
    assert _answers(app) == ["bên phải, gần nhà số 5 có được không"]


# --- the comment after a rating ---------------------------------------------------------------------
def _resolved(app, clock, res: Chat):
    staff = make_staff(app, clock)
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    staff.press("pa:res:1")
    staff.say("Đã thu gom")
    staff.press("pastaff:skip")


def test_a_question_at_the_rating_comment_is_answered_and_the_comment_taken_up_again(app, clock):
    res = Chat(app, "r1")
    _resolved(app, clock, res)
    assert "góp ý thêm" in res.say(button="parate:1:4")[-1].text
    replies = res.say(QUESTION)
    assert "căn cước" in replies[0].text.lower() and "tiếp tục góp ý" in replies[-1].text
    with app.db.session() as s:
        assert s.get(Report, 1).rating_comment is None  # the question is not the comment
    assert "góp ý thêm" in res.text("tiếp tục")
    assert "Đã ghi nhận" in res.text("Cán bộ làm nhanh, cảm ơn")
    with app.db.session() as s:
        assert s.get(Report, 1).rating_comment == "Cán bộ làm nhanh, cảm ơn"


def test_rating_comment_typed_skip_and_a_reopened_report_comment_reaches_the_unit(app, clock):
    res = Chat(app, "r1")
    _resolved(app, clock, res)
    res.press("parate:1:5")
    assert "cảm ơn bạn đã phản ánh" in res.text("bỏ qua").lower()
    with app.db.session() as s:
        assert s.get(Report, 1).rating_comment is None
    # a complaint-like comment after a low rating is the comment, for the unit
    res2 = Chat(app, "r2")
    file_report(res2, "Rác đổ đầy chân cầu Rồng mấy hôm nay", address="Chân cầu Rồng")
    staff = make_staff(app, clock, user_id="staff-9", name="Cán bộ Chín")
    staff.press("pa:res:2")
    staff.say("Đã thu gom")
    staff.press("pastaff:skip")
    assert "sự việc còn thế nào" in res2.say(button="parate:2:1")[-1].text
    assert "Đã chuyển ý kiến" in res2.text("Sao vẫn còn rác vậy?")
    assert any("Sao vẫn còn rác vậy?" in m.payload["text"] for m in outbox(app, UNIT))


# --- on Telegram and Zalo --------------------------------------------------------------------------


def test_answering_staff_on_telegram_and_zalo(make_app, settings, understander, clock, bot_api_emulators):
    from tests.channel_helpers import Running
    tg, zl = bot_api_emulators
    tg.reset()
    zl.reset()
    with Running(lambda settings: make_app(settings=settings, understander=FakeNLU(understander)), settings,
                 telegram=tg, zalo=zl) as r:
        app = r.app
        staff = make_staff(app, clock)
        file_report(Chat(app, "zr-1", channel="zalo"), "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
        file_report(Chat(app, "777", channel="telegram"), "Rác đổ đầy chân cầu Rồng mấy hôm nay",
                    address="Chân cầu Rồng")
        for rid in (1, 2):
            staff.press(f"pa:ask:{rid}")
            staff.say("Rác ở phía bên trái hay bên phải?")
        app.wake_outbox()
        n = await_text(zl, "zr-1", 0, "cần thêm thông tin")
        # Zalo: "1" typed twice, a new question, then "1" = "Gửi cho cán bộ"
        for text, expect in [("1", "thông tin bổ sung"), ("1", "thông tin bổ sung"),
                             (QUESTION, "Gửi luôn tin nhắn vừa rồi cho cán bộ?\n1. Gửi cho cán bộ"),
                             ("2", "thông tin bổ sung"), ("Bên trái ạ", "Đã chuyển")]:
            zl.text("zr-1", text)
            n = await_text(zl, "zr-1", n, expect)
        # Telegram: the notice's button pressed twice, one answer, pressed again after it
        m = await_text(tg, 777, 0, "cần thêm thông tin")
        for kind, arg, expect in [("press", "pareply:2", "thông tin bổ sung"), ("press", "pareply:2", "thông tin bổ sung"),
                                  ("text", "Bên phải, gần trụ điện", "Đã chuyển"),
                                  ("press", "pareply:2", "đã trả lời câu hỏi")]:
            tg.text(777, arg) if kind == "text" else tg.press(777, arg)
            m = await_text(tg, 777, m, expect)
        assert _answers(app) == ["Bên trái ạ", "Bên phải, gần trụ điện"]
