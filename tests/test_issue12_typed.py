"""Issue 12, found by exploratory testing as residents on Zalo and the web chat. Through the web API
and the Zalo Bot emulator, on the real understander and database."""
from __future__ import annotations

import httpx
from sqlmodel import select

from handlers.broadcast.models import ClassSignup
from handlers.reports.models import Report, ReportEvent
from tests.channel_helpers import Running, await_text
from tests.conftest import Chat


class WebChat:
    """A resident on the web chat: the server-issued session kept across messages."""

    def __init__(self, url: str):
        self.url, self.headers = url, {}

    def say(self, text: str) -> str:
        resp = httpx.post(self.url + "/api/messages", json={"text": text}, headers=self.headers, timeout=60)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        self.headers["X-Session"] = body["session"]
        return "\n".join(r["text"] for r in body["replies"])


def test_how_people_name_themselves_is_read_past_a_comma_or_a_greeting(make_app, settings):
    """"cho bà hỏi, ..." and "cháu ơi, bà ..." were answered "bạn" all through: a comma after the
    verb hid the term, and a greeting or a call ("chào em,", "cháu ơi") before it was not expected."""
    with Running(make_app, settings) as r:
        for first, term in [("cho bà hỏi, đèn đường đầu kiệt 7 Lê Duẩn tắt cả tuần nay rồi", "Bà"),
                            ("cháu ơi, bà báo cái đèn đường đầu kiệt 9 Lê Duẩn tắt mấy tuần nay", "Bà"),
                            ("chào em, chị muốn báo đèn đường đầu kiệt 11 Lê Duẩn bị tắt", "Chị"),
                            ("Dạ chào cán bộ, bác báo đèn đường đầu kiệt 15 Lê Duẩn không sáng", "Bác")]:
            web = WebChat(r.url)
            assert "Đúng không" in web.say(first), first
            out = web.say("đúng")
            assert out.startswith(f"{term} gửi ảnh"), (first, out)
            assert "Bạn" not in out
        # the same on a question, and a thank-you with a full stop
        web = WebChat(r.url)
        web.say("chào cháu, bà muốn hỏi làm giấy khai sinh cho chắt ở đâu")
        assert web.say("cảm ơn cháu nhé").endswith("Bà cần gì thêm cứ nhắn cháu nhé!")
        web = WebChat(r.url)
        web.say("làm giấy khai sinh ở đâu")
        assert "Chú cần gì" in web.say("chú cảm ơn.")


def _resolved_on_zalo(app, clock, chat_id: str) -> int:
    from handlers.reports import service as RS
    from handlers.reports.models import RESOLVED
    from tests.reports_helpers import file_report
    file_report(Chat(app, chat_id, channel="zalo"), "Rác đổ đống ở đầu kiệt 45 Trần Phú mấy ngày không ai dọn")
    with app.db.session() as s:
        rep = s.exec(select(Report).where(Report.chat_id == chat_id)).one()
        RS.transition(app, s, clock.now(), rep, RESOLVED, None, "test", note="đã thu gom")
        s.commit()
        return rep.id


def test_a_rating_typed_in_words_on_zalo(make_app, settings, clock, bot_api_emulators):
    """"tệ quá" after the rating request got "câu này mình chưa trả lời được": only stars and
    numbers were read. Words of (dis)satisfaction are a rating; a low one reopens the report."""
    _, zl = bot_api_emulators
    zl.reset()
    with Running(make_app, settings, zalo=zl) as r:
        app = r.app
        cases = [("zr-bad", "tệ quá", 1, "chuyển lại phản ánh"), ("zr-ok", "rất hài lòng ạ", 5, "★★★★★"),
                 ("zr-mid", "tạm được", 3, "★★★")]
        for chat, _, _, _ in cases:
            _resolved_on_zalo(app, clock, chat)
        app.wake_outbox()
        for chat, typed, stars, expect in cases:
            n = await_text(zl, chat, 0, "đánh giá kết quả")
            zl.text(chat, typed)
            await_text(zl, chat, n, expect)
        with app.db.session() as s:
            got = {rep.chat_id: (rep.rating, rep.status) for rep in s.exec(select(Report))}
            rated = [e.detail for e in s.exec(select(ReportEvent).where(ReportEvent.action == "rated")
                                              .order_by(ReportEvent.id))]
        assert [d["stars"] for d in rated] == [1, 5, 3]
        assert got["zr-bad"][1] not in ("resolved", "closed")  # reopened: rated anew next round
        assert got["zr-ok"][0] == 5 and got["zr-mid"][0] == 3


def test_words_that_are_not_a_rating_leave_the_request_open(app, clock):
    rid = _resolved_on_zalo(app, clock, "zr-q")
    chat = Chat(app, "zr-q", channel="zalo")
    chat.say("tốt nghiệp đại học rồi thì làm thủ tục gì")  # starts with "tốt": no rating
    chat.say("tạm trú ở đâu")
    with app.db.session() as s:
        assert s.get(Report, rid).rating is None
    assert "★★★★" in chat.text("tốt")


def test_a_class_sign_up_changed_by_typing_on_zalo(make_app, settings, clock, bot_api_emulators):
    """After "1" (joined) the reply says to press "Không tham gia" if busy, but Zalo has no button
    and the notice's options were used up: "không tham gia" typed later got a list of loans and
    veterans' benefits, and "tham gia" after declining the same."""
    from tests.broadcast_helpers import publish_class, subscribe_many
    _, zl = bot_api_emulators
    zl.reset()
    with Running(make_app, settings, zalo=zl) as r:
        app = r.app
        (pid,) = subscribe_many(app, 1, channel="zalo", prefix="zcl")
        publish_class(app)
        app.wake_outbox()
        n = await_text(zl, "zcl0", 0, "2. Không tham gia")
        steps = [("1", "Đã giữ chỗ"), ("làm căn cước ở đâu", "căn cước"),
                 ("không tham gia", "Đã hủy đăng ký"), ("tham gia", "Đã giữ chỗ"),
                 ("không đi được nữa", "Đã hủy đăng ký")]
        status = []
        for typed, expect in steps:
            zl.text("zcl0", typed)
            n = await_text(zl, "zcl0", n, expect)
            with app.db.session() as s:
                status.append(s.exec(select(ClassSignup.status).where(ClassSignup.person_id == pid)).first())
        assert status == ["going", "going", "declined", "going", "declined"]
        assert all("bấm" not in t for t in zl.texts("zcl0")[1:]), zl.texts("zcl0")


def test_a_sentence_at_a_choice_that_the_faq_only_half_matches_is_not_set_aside_as_a_question(make_app, settings):
    """A team member typed what the session was at /ghinhan's place step ("hướng dẫn 3 hộ cài vneid
    ở tổ 1") and got "Ý bạn là nội dung nào dưới đây?" with three FAQ entries, the log set aside:
    a sentence not worded as a question, that the FAQ can only guess at, is an answer that did not
    fit, and the step says what it needs."""
    from bot import roles as R
    with Running(make_app, settings) as r:
        with r.app.db.session() as s:
            code = R.create_invite(s, R.TEAM_MEMBER, r.app.clock.now(), group_code="tdp-01").code
            s.commit()
        web = WebChat(r.url)
        assert "họ tên" in web.say(f"/nhapma {code}")
        web.say("Trần Văn Hùng")
        web.say("/ghinhan")
        assert "ở đâu" in web.say("hôm qua")
        out = web.say("hướng dẫn 3 hộ cài vneid ở tổ 1")
        assert "Ý bạn là" not in out and "tiếp tục" not in out.lower(), out
        assert "chọn" in out
        assert "bao nhiêu hộ" in web.say("gõ cửa")


FLOOD = "đường trước nhà tôi bị ngập nước mấy hôm nay không rút"


def test_an_answer_to_a_later_step_at_the_category_check_keeps_the_guess_and_the_answer(make_app, settings):
    """At "Đúng không ạ?" after the category guess, residents answered the next questions instead
    ("ko có ảnh", "kiệt 12 Lê Lợi", "tổ 3") or named another kind ("ngập nước"): each got "chọn loại
    sự việc" and the twelve categories, though the question was yes or no."""
    with Running(make_app, settings) as r:
        web = WebChat(r.url)
        assert "Ngập úng" in web.say(FLOOD)
        assert "Sự việc ở đâu" in web.say("ko có ảnh")  # yes, and no photo
        web = WebChat(r.url)
        web.say(FLOOD)
        assert "gửi ảnh" in web.say("kiệt 12 Lê Lợi")  # yes, and this is the place
        assert "tổ dân phố nào" in web.say("bỏ qua")
        web = WebChat(r.url)
        web.say(FLOOD)
        assert "gửi ảnh" in web.say("tổ 3")
        web.say("không có ảnh")
        assert "gọi lại" in web.say("12 Lê Lợi")  # the group was given already
        web = WebChat(r.url)
        assert "Đèn đường" in web.say("cột đèn trước nhà tôi bị nghiêng sắp đổ, tối không sáng")
        assert "gửi ảnh" in web.say("ngập nước")
        web.say("bỏ qua")
        web.say("12 Lê Lợi")
        web.say("tổ 2")
        web.say("chỉ báo qua chat")
        assert "Loại: Ngập úng" in web.say("không")
        web = WebChat(r.url)
        web.say(FLOOD)
        out = web.say("hmm để xem đã")
        assert "Đúng" in out and "Ngập úng" in out and "Rác thải" not in out, out


def test_stars_said_in_a_short_sentence_and_words_with_a_tail(app, clock):
    for i, (typed, stars) in enumerate([("cho 4 sao", 4), ("4 sao nhé", 4), ("1 sao thôi", 1),
                                        ("không hài lòng lắm", 1), ("bình thường thôi", 3), ("tốt lắm", 5)]):
        rid = _resolved_on_zalo(app, clock, f"zr-s{i}")
        Chat(app, f"zr-s{i}", channel="zalo").say(typed)
        with app.db.session() as s:
            ev = s.exec(select(ReportEvent).where(ReportEvent.report_id == rid, ReportEvent.action == "rated")).first()
        assert ev is not None and ev.detail["stars"] == stars, typed


def test_thoughts_of_ending_ones_life_and_stroke_signs_get_help_not_the_fallback(make_app, settings):
    """"em chán sống quá không muốn sống nữa" got "câu này mình chưa trả lời được ... /hoicanbo",
    and the signs of a stroke ("méo miệng") an offer to pass the question to staff (point 5)."""
    with Running(make_app, settings) as r:
        for text in ("em chán sống quá không muốn sống nữa", "dạo này tôi chỉ muốn tự sát cho xong",
                     "mình không thiết sống nữa", "em muốn tự tử"):
            out = WebChat(r.url).say(text)
            assert "115" in out and "một mình" in out and "/hoicanbo" not in out, (text, out)
        out = WebChat(r.url).say("ông nhà bác bị méo miệng nói ngọng từ sáng")
        assert "115" in out and "cán bộ" not in out, out
        # the procedures that name these words stay answered
        assert "115" not in WebChat(r.url).say("ba tôi bị liệt nửa người có được hưởng trợ cấp khuyết tật không")


TREE = "cây xanh trước số 20 Nguyễn Du bị gãy cành đè lên dây điện"


def test_skip_or_dont_know_at_the_place_step_is_not_the_place(make_app, settings):
    """"bỏ qua" at "Sự việc ở đâu?" was kept as the place ("Địa điểm: bỏ qua; Tổ dân phố 4")."""
    with Running(make_app, settings) as r:
        web = WebChat(r.url)
        web.say(TREE)
        web.say("đúng")
        assert "Sự việc ở đâu" in web.say("không có ảnh")
        for typed in ("bỏ qua", "không biết", "đúng rồi"):
            out = web.say(typed)
            assert "ở đâu" in out and "tổ dân phố nào" not in out, (typed, out)
        assert "tổ dân phố nào" in web.say("gần ngã tư Nguyễn Du - Lê Lợi")


def test_a_field_named_in_everyday_words_at_the_summary_opens_it(make_app, settings):
    """At the summary "sửa số điện thoại", and "sđt" after "sửa", got "Bạn bấm Gửi phản ánh để gửi...":
    only the label's own words ("Liên hệ") opened the field."""
    with Running(make_app, settings) as r:
        web = WebChat(r.url)
        for typed in (TREE, "đúng", "không có ảnh", "20 Nguyễn Du", "tổ 4", "0912345678", "bác Tư"):
            web.say(typed)
        assert "kiểm tra lại" in web.say("không")
        assert "số điện thoại" in web.say("sửa số điện thoại")
        assert "0912345679" in web.say("0912345679")
        assert "sửa mục nào" in web.say("sửa")
        assert "số điện thoại" in web.say("sđt")
        web.say("0912345670")
        assert "sửa mục nào" in web.say("sửa")
        assert "ở đâu" in web.say("địa chỉ")
        assert "22 Nguyễn Du" in web.say("22 Nguyễn Du")


def test_a_reports_news_speaks_to_the_resident_as_they_name_themselves_on_zalo(make_app, settings, clock,
                                                                                bot_api_emulators):
    """A resident who wrote "cho bà hỏi, ..." was "bà" in the form, then "bạn" in every message the
    ward sent about the report: the staff question, the result and the rating request (point 6)."""
    from handlers.reports import service as RS
    from handlers.reports.models import RESOLVED
    from tests.reports_helpers import make_staff
    _, zl = bot_api_emulators
    zl.reset()
    with Running(make_app, settings, zalo=zl) as r:
        app = r.app
        ch = Chat(app, "zb-ba", channel="zalo")
        assert "Đúng không" in ch.text("cho bà hỏi, rác đổ đống ở đầu kiệt 7 Lê Duẩn cả tuần nay không ai dọn")
        for typed in ("đúng", "không có ảnh", "kiệt 7 Lê Duẩn", "không rõ", "chỉ báo qua chat", "không"):
            ch.say(typed)
        assert "Mã phản ánh của bà" in ch.text("gửi")
        with app.db.session() as s:
            rep = s.exec(select(Report)).one()
        staff = make_staff(app, clock, unit=rep.unit_id)
        staff.press(f"pa:ask:{rep.id}")
        staff.say("Rác ở bên trái hay bên phải kiệt ạ?")
        app.wake_outbox()
        n = await_text(zl, "zb-ba", 0, "cần thêm thông tin")
        zl.text("zb-ba", "bên phải, gần cột điện")
        n = await_text(zl, "zb-ba", n, "Đã chuyển thông tin bổ sung")
        with app.db.session() as s:
            RS.transition(app, s, clock.now(), s.get(Report, rep.id), RESOLVED, None, "test", note="đã thu gom")
            s.commit()
        app.wake_outbox()
        await_text(zl, "zb-ba", n, "đánh giá")
        news = [t for t in zl.texts("zb-ba") if "PA-" in t]
        assert len(news) >= 2 and all(" bạn" not in t.lower() for t in news), news
        assert any("của bà:" in t for t in news) and any("Bà đánh giá" in t for t in news), news


def test_a_photo_sent_first_then_described_goes_with_the_report_on_zalo(make_app, settings, bot_api_emulators):
    """On Zalo people send the photo, then type what it is: the typed report started the form and
    the photo was lost ("Ảnh: 0"), since only "Có, gửi phản ánh" took it."""
    _, zl = bot_api_emulators
    zl.reset()
    with Running(make_app, settings, zalo=zl) as r:
        zl.photo("zp-1", b"\xff\xd8\xff" + b"0" * 2000)
        n = await_text(zl, "zp-1", 0, "phản ánh sự việc trong ảnh")
        for typed, expect in [("ổ gà to giữa đường trước số 5 Bạch Đằng, xe máy sụp bánh", "Đúng không"),
                              ("đúng", "Đã có 1 ảnh"), ("tiếp tục", "ở đâu"), ("5 Bạch Đằng", "tổ dân phố nào"),
                              ("tổ 2", "gọi lại"), ("ẩn danh", "Ảnh: 1")]:
            zl.text("zp-1", typed)
            n = await_text(zl, "zp-1", n, expect)
        # a photo left unanswered long ago does not join a later report
        app = r.app
        zl.photo("zp-2", b"\xff\xd8\xff" + b"1" * 2000)
        m = await_text(zl, "zp-2", 0, "phản ánh sự việc trong ảnh")
        app.clock.advance(hours=2)
        zl.text("zp-2", "ổ gà to giữa đường trước số 9 Bạch Đằng, xe máy sụp bánh")
        m = await_text(zl, "zp-2", m, "Đúng không")
        zl.text("zp-2", "đúng")
        await_text(zl, "zp-2", m, "gửi ảnh chụp")
        assert "Đã có" not in zl.texts("zp-2")[-1]


def test_the_problem_still_there_after_the_result_reopens_that_report(make_app, settings, clock, bot_api_emulators):
    """"rác vẫn còn nguyên, chưa ai dọn" after the result notice started a new report form: the
    phrases of "Chưa xử lý xong" counted only at the start of the message ("vẫn còn rác")."""
    _, zl = bot_api_emulators
    zl.reset()
    with Running(make_app, settings, zalo=zl) as r:
        app = r.app
        rid = _resolved_on_zalo(app, clock, "zr-still")
        app.wake_outbox()
        n = await_text(zl, "zr-still", 0, "đánh giá kết quả")
        zl.text("zr-still", "rác vẫn còn nguyên, chưa ai dọn")
        await_text(zl, "zr-still", n, "chuyển lại phản ánh")
        with app.db.session() as s:
            assert s.get(Report, rid).status not in ("resolved", "closed")
            assert len(s.exec(select(Report)).all()) == 1
            ev = s.exec(select(ReportEvent).where(ReportEvent.action == "reopened")).one()
            assert "vẫn còn nguyên" in (ev.note or "")
    # another kind of problem is a new report
    other = Chat(app, "zr-other", channel="zalo")
    _resolved_on_zalo(app, clock, "zr-other")
    assert "Đúng không" in other.text("đèn đường đầu kiệt 3 Trần Phú vẫn chưa sáng")
