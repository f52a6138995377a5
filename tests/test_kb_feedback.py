"""Residents say whether an answer helped (buttons or a typed "có"/"không"); the monthly figures
reach the statistics registry and `python -m bot kb stats`."""
from datetime import datetime, timedelta, timezone

from sqlmodel import select

from bot import stats
from knowledge.feedback import FaqAnswer, month_range
from knowledge.unanswered import UnansweredQuestion
from tests.conftest import Chat

Q = "đăng ký khai sinh cho con cần giấy tờ gì"


def _fb_buttons(replies):
    """The rating pair shown under the answer in replies: the last two buttons."""
    btns = [b for r in replies for b in r.buttons]
    assert [b.data.split(":")[0] for b in btns[-2:]] == ["fb", "fb"], [b.data for b in btns]
    assert not any(b.data.startswith("fb:") for b in btns[:-2])
    return btns[-2:]


def test_buttons_under_an_answer_and_one_vote_each(app):
    c = Chat(app, "f1")
    btns = _fb_buttons(c.say(Q))
    assert [b.text for b in btns] == ["Có ích", "Chưa đúng ý"]
    assert "Cảm ơn bạn!" in c.text(button=btns[0].data)
    assert "đã đánh giá" in c.text(button=btns[1].data)  # a second press changes nothing
    with app.db.session() as s:
        row = s.exec(select(FaqAnswer)).one()
    assert (row.topic, row.helpful, row.via) == ("ho-tich.khai-sinh", True, "auto")
    assert "không còn dùng" in c.text(button="fb:maybe:x")
    assert "không còn để đánh giá" in c.text(button="fb:yes:cu-tru.tam-tru")  # not this chat's answer
    # an older answer's buttons do not rate a newer answer of another topic
    old = _fb_buttons(c.say(Q))
    c.say("thủ tục đăng ký tạm trú cho người thuê trọ")
    assert "không còn để đánh giá" in c.text(button=old[0].data)
    assert [b.data for b in _fb_buttons(Chat(app, "f9").say(Q))] == [b.data for b in btns]  # same on every chat


def test_not_helpful_offers_staff_and_logs_the_question(app):
    c = Chat(app, "f2")
    btns = _fb_buttons(c.say("Tôi là Trần Văn Bình, cho hỏi " + Q))
    replies = c.say(button=btns[1].data)
    assert any(b.data == "handoffask:yes" for r in replies for b in r.buttons)
    with app.db.session() as s:
        assert s.exec(select(FaqAnswer)).one().helpful is False
        q = s.exec(select(UnansweredQuestion)).one()
    assert q.reason == "low_confidence" and q.guesses[0]["topic"] == "ho-tich.khai-sinh"
    assert "Bình" not in q.text and "[tên]" in q.text


def test_monthly_figures_in_the_registry_and_cli(app, clock, settings, monkeypatch, capsys):
    c = Chat(app, "f4")
    c.press(_fb_buttons(c.say(Q))[0].data)
    c.press(_fb_buttons(c.say("làm căn cước cho con dưới 14 tuổi ở đâu"))[1].data)
    c.say("dự báo thời tiết ngày mai ở Hà Nội thế nào")
    c.press("handoffask:yes")
    c.press("handoff:keep")
    c.press("handoff:skip")
    c.press("handoff:send")
    start, end = month_range(clock.now().astimezone(timezone.utc).strftime("%Y-%m"))
    with app.db.session() as s:
        figs = stats.collect(s, start, end)
        assert stats.collect(s, start, end, "tdp-01").get("faq_answered") is None  # ward-wide only
        later = stats.collect(s, end, end + timedelta(days=31))
    assert {k: figs[k] for k in ("faq_answered", "faq_helpful", "faq_not_helpful", "faq_handoffs",
                                 "faq_unanswered")} == {"faq_answered": 2, "faq_helpful": 1, "faq_not_helpful": 1,
                                                        "faq_handoffs": 1, "faq_unanswered": 1}
    assert later["faq_answered"] == 0
    from bot.cli import main
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    month = start.strftime("%Y-%m")
    assert main(["kb", "stats", "--month", month]) == 0
    out = capsys.readouterr().out
    assert "Câu hỏi trợ lý tự trả lời: 2" in out and "Câu hỏi chuyển cán bộ: 1" in out
    assert "Đăng ký khai sinh: 1 / 1 / 0" in out and "50%" in out
    assert main(["kb", "stats", "--month", "2026-13"]) == 2


def _rows(app):
    with app.db.session() as s:
        return [(r.topic, r.helpful) for r in s.exec(select(FaqAnswer).order_by(FaqAnswer.id))]


def test_typed_rating_phrases_never_take_numbers_or_a_bare_yes_no(app):
    """Text-only channels number the answer's options, not the rating pair: "1" is still the first
    section; a bare "có"/"không" is not a rating; "có ích", "đúng rồi", "chưa đúng", "sai rồi" are."""
    c = Chat(app, "f5")
    first = c.say(Q)[0]
    sections = [b for b in first.buttons if b.data.startswith("faqs:")]
    assert len(sections) >= 2
    # the number still means the answer's first section
    assert c.text("1") == Chat(app, "f6").text(button=sections[0].data)
    assert _rows(app) == [("ho-tich.khai-sinh", None)]
    # a bare "không" answers nothing here (no rating, and no option read as "thôi")
    assert "Thời gian giải quyết" not in c.text("không")
    c.say("có")
    assert _rows(app) == [("ho-tich.khai-sinh", None)]
    c.say(Q)
    assert "Cảm ơn bạn!" in c.text("Có ích!")
    assert _rows(app)[-1] == ("ho-tich.khai-sinh", True)
    c.say(Q)
    assert "Cảm ơn bạn!" in c.text("đúng rồi, cảm ơn nhé")
    c.say(Q)
    replies = c.say("sai rồi")
    assert "Cảm ơn bạn đã cho biết" in replies[0].text
    assert any(b.data == "handoffask:yes" for r in replies for b in r.buttons)
    assert [h for _, h in _rows(app)] == [None, True, True, False]
    with app.db.session() as s:
        assert s.exec(select(UnansweredQuestion)).one().text == Q  # the question, for staff to review
    c.say(Q)
    c.say("chưa đúng ý lắm")
    assert _rows(app)[-1] == ("ho-tich.khai-sinh", False)


def test_rating_on_a_text_only_channel_emulator(make_app, settings):
    """On Zalo (no buttons): the options are numbered, the rating pair is one short typed line."""
    from tests.channel_helpers import Running
    from tests.emulators.zalo import ZaloEmulator
    from knowledge.feedback import TYPED_HINT
    zl = ZaloEmulator().start()
    try:
        with Running(make_app, settings, zalo=zl) as r:
            zl.text("zu-fb", Q)
            answer = zl.wait_sent("zu-fb", 1)[0].params["text"]
            assert answer.startswith("Đăng ký khai sinh") and answer.endswith(TYPED_HINT)
            assert "(Trả lời bằng số thứ tự)" in answer
            numbered = [ln for ln in answer.splitlines() if ln[:1].isdigit() and ". " in ln]
            assert numbered and not any("Có ích" in ln or "Chưa đúng" in ln for ln in numbered)
            zl.text("zu-fb", "có ích")
            assert "Cảm ơn bạn!" in zl.wait_sent("zu-fb", 2)[1].params["text"]
            assert _rows(r.app) == [("ho-tich.khai-sinh", True)]
    finally:
        zl.stop()
