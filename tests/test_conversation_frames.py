"""Follow-ups as people type them (issue 12, point 1): a conversational frame around a new topic
("vậy còn khai tử?"), words that are filler elsewhere naming the topic ("sao y"), and a typed
option reported by `ask` as the procedure answer it is."""
from __future__ import annotations

from bot.cli import AskSession
from tests.conftest import Chat


def test_a_frame_around_a_new_topic_switches_to_it(app):
    chat = Chat(app, "frame-1")
    assert chat.text("cho hỏi đăng ký kết hôn cần gì").startswith("Đăng ký kết hôn")
    for text in ("vậy còn khai tử?", "vay con khai tu", "thế còn khai tử thì sao ạ"):
        out = chat.text(text)
        assert out.startswith("Đăng ký khai tử"), (text, out)
        chat.text("cho hỏi đăng ký kết hôn cần gì")


def test_a_frame_alone_is_not_a_topic(app):
    chat = Chat(app, "frame-2")
    assert "Đăng ký" not in chat.text("vậy còn?")


def test_sao_y_names_the_copy_certification_even_beside_an_aspect(app):
    chat = Chat(app, "saoy-1")
    out = chat.text("sao y giấy tờ ở phường được k")
    assert out.startswith("Chứng thực bản sao"), out
    # an aspect alone still asks which procedure
    assert "thủ tục nào" in Chat(app, "saoy-2").text("giấy tờ ở phường được k")


def test_ask_reports_a_typed_option_as_the_procedure_answer(app):
    ask = AskSession(app)
    first = ask.ask("cho hỏi đăng ký kết hôn cần gì", "s")
    assert first["kind"] == "faq" and first["topic"] == "ho-tich.ket-hon"
    assert "Lệ phí" in first["buttons"]
    fee = ask.ask("lệ phí?", "s")  # the label of a button on screen
    assert (fee["kind"], fee["topic"], fee["topics"]) == ("faq", "ho-tich.ket-hon", ["ho-tich.ket-hon"])
    assert fee["reply"].startswith("Đăng ký kết hôn - Lệ phí")
    other = ask.ask("/start", "s")
    assert other["kind"] == "command"


def test_a_short_follow_up_in_words_the_topic_knows_stays_on_it(app):
    # "đưa bé theo" sits nearer vaccination for children, yet the conversation is about a child's
    # căn cước
    chat = Chat(app, "stay-1")
    assert chat.text("con e 5 tuổi làm căn cước được ko").startswith("Căn cước, tài khoản định danh cho trẻ em")
    assert chat.text("có cần đưa bé theo không").startswith("Căn cước, tài khoản định danh cho trẻ em")


def test_a_follow_up_naming_another_entrys_title_switches(app):
    chat = Chat(app, "switch-1")
    assert chat.text("làm khai sinh cho con").startswith("Đăng ký khai sinh")
    assert chat.text("đăng ký thường trú cho con luôn được không").startswith("Đăng ký thường trú")
    assert chat.text("tiện hỏi thẻ bhyt cho bé").startswith("Bảo hiểm y tế")


STORY = ("Vợ em mới sinh bé gái ở bệnh viện hôm 20/11, hai vợ chồng đều đi làm công ty, ông bà nội ở "
         "quê Quảng Nam không ra được. Em nghe mấy anh cùng phòng nói phải lo giấy tờ cho bé trong hạn, "
         "trễ là bị phạt, mà em chưa biết bắt đầu từ đâu. Cho em hỏi làm khai sinh cần mang những gì ạ?")


def test_a_long_story_with_a_question_in_it_gets_the_answer(app):
    # most of a story's words are about the family and the places: the share the winner explains
    # is small, what it explains in all is a question's worth
    u = app.nlu.understand(STORY)
    assert (u.kind, u.topic) == ("faq", "ho-tich.khai-sinh"), u
    assert Chat(app, "story-1").text(STORY).startswith("Đăng ký khai sinh")
    # a long message about nothing the ward does stays out of scope
    u = app.nlu.understand("Dạo này tôi hay mất ngủ, đêm nào cũng trằn trọc, sáng dậy đau đầu, uống "
                           "cà phê cũng không tỉnh, làm việc ở công ty cứ lơ mơ, sếp nhắc mấy lần rồi. "
                           "Vợ bảo đi khám mà tôi ngại. Có nên uống thuốc ngủ không, loại nào tốt?")
    assert u.kind == "fallback", u


def test_a_story_that_falls_back_as_a_whole_is_answered_from_its_question(app):
    # the story's words (bank, market, children away) outweigh the question at its end
    story = ("Nhà tôi ở kiệt 35 Núi Thành, mấy năm nay buôn bán nhỏ ở chợ Hòa Cường, con cái đi làm xa hết, "
             "chỉ còn hai ông bà già. Hôm rồi đi rút tiền ở ngân hàng thì nhân viên nói thẻ của tôi đã quá "
             "hạn, phải đổi mới mới giao dịch được, tôi về lục lại thì đúng là hết hạn từ tháng trước. Vậy "
             "đổi căn cước ở đâu, có phải chụp hình lại không?")
    assert app.nlu.understand(story).kind == "fallback"  # the whole, read as one
    assert Chat(app, "story-2").text(story).startswith("Cấp đổi, cấp lại thẻ căn cước")
