"""Forms as data (bot/forms.py) through the engine: typed answers matched loosely, questions asked
mid-form answered and the form taken up again, leaving and resuming, errors that say what is wrong,
consent to publish, a name asked once; typed button data within Telegram's 64 bytes."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from bot.core import Location
from bot.forms import ButtonData, Form, Option, match_option
from bot.models import Conversation, Person
from handlers.reports.models import Report
from tests.channel_helpers import await_text
from tests.conftest import Chat
from tests.reports_helpers import FakeNLU, code_in, file_report, make_staff, outbox

NEAR = Location(16.0671, 108.2231)


@pytest.fixture
def app(make_app, understander):
    return make_app(understander=FakeNLU(understander))


def _conv(app, chat_id, member="") -> Conversation:
    with app.db.session() as s:
        return s.exec(select(Conversation).where(Conversation.chat_id == chat_id,
                                                 Conversation.member == member)).one()


def _report(app, code) -> Report:
    with app.db.session() as s:
        return s.exec(select(Report).where(Report.code == code)).one()


# --- typed button data ---------------------------------------------------------------------------
def test_every_button_kind_and_every_form_button_fits_telegrams_64_bytes(app):
    import handlers.reports.flow  # noqa: F401  (kinds register on import)
    assert {"fres", "fdrop", "pans", "panew"} <= set(ButtonData.kinds)
    for kind in ButtonData.kinds.values():
        b = kind.widest()
        assert len(b.pack().encode()) <= 64, b.pack()
        assert kind.unpack(b.pack()) == b  # what is packed parses back
    assert ButtonData.kinds["pans"].parse("²") is None and ButtonData.kinds["pans"].parse("9" * 30) is None
    from bot.context import Context
    with app.db.session() as s:
        p = s.exec(select(Person)).first() or Person(channel="web", channel_user_id="x", chat_id="x")
        ctx = Context(app, s, None, p, Conversation(channel="web", chat_id="x", data={}))
        for form in app.router.flows.values():
            if isinstance(form, Form):
                for f in form.fields:
                    for b in f.buttons(form, ctx):
                        assert len(b.data.encode()) <= 64, b.data
                for b in form.summary_buttons():
                    assert len(b.data.encode()) <= 64


# --- loose matching -----------------------------------------------------------------------------
def test_typed_options_match_loosely():
    from handlers.reports.flow import CONTACT_CHOICES, PUBLISH_CHOICES
    assert match_option("ẩn danh", CONTACT_CHOICES).wire == "anon"
    assert match_option("AN DANH", CONTACT_CHOICES).wire == "anon"
    assert match_option("2", CONTACT_CHOICES).wire == "anon"
    assert match_option("chỉ báo qua chat", CONTACT_CHOICES).wire == "chatonly"
    assert match_option("có", PUBLISH_CHOICES).value is True
    assert match_option("ko", PUBLISH_CHOICES).value is False
    assert match_option("0905 123 456", CONTACT_CHOICES) is None
    opts = [Option("Gửi phản ánh", "send", "send", ("gui",)), Option("Hủy", "cancel", "cancel")]
    assert match_option("gửi", opts).value == "send"
    assert match_option("thời tiết hôm nay", opts) is None


def test_a_whole_report_typed_without_pressing_a_button(app):
    c = Chat(app, "r1")
    assert "Đúng không" in c.text("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    assert "ảnh" in c.text("đúng rồi")
    assert "Sự việc ở đâu" in c.text("ko có ảnh")
    assert "tổ dân phố nào" in c.text("Kiệt 45 Lê Lợi, gần chợ")
    assert "số điện thoại" in c.text("tổ 2")
    assert "kiểm tra lại phản ánh" in c.text("ẩn danh")  # anonymous: no phone, no consent question
    assert "sửa mục nào" in c.text("sửa")
    assert "Sự việc ở đâu" in c.text("4")  # the fourth field listed: the place
    assert "Kiệt 46 Lê Lợi" in c.text("Kiệt 46 Lê Lợi, gần chợ")  # straight back to the summary
    code = code_in(c.text("gửi"))
    r = _report(app, code)
    assert r.anonymous and r.contact_name is None and r.group_code == "tdp-02" and not r.publish_description
    assert r.address == "Kiệt 46 Lê Lợi, gần chợ"


def test_each_error_says_what_is_wrong(app):
    c = Chat(app, "r1")
    c.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    c.press("phananh:catok")
    c.press("phananh:photodone")
    c.say("Kiệt 45 Lê Lợi")
    c.press("phananh:grp:tdp-01")
    assert "5 chữ số, cần 9 đến 11" in c.text("09051")
    assert "chưa thấy số điện thoại" in c.text("để mai tính")
    assert "công khai" in c.text("0905 111 222")
    assert _conv(app, "r1").data["phone"] == "0905111222"


# --- questions mid-form -------------------------------------------------------------------------
def test_a_question_mid_report_is_answered_and_the_report_goes_on(app):
    c = Chat(app, "r1")
    c.say("/phananh")
    c.say("Đường trước nhà có ổ gà rất lớn, xe máy dễ té")  # the category list
    replies = c.say("cho hỏi làm giấy khai sinh cần giấy tờ gì?")
    assert "khai sinh" in replies[0].text.lower()
    assert replies[-1].text == "Bạn muốn tiếp tục phản ánh không?"
    conv = _conv(app, "r1")
    assert conv.flow is None and conv.data["_parked"]["data"].get("cat") is None  # not its category
    out = c.text("1")  # "Tiếp tục", typed on a channel without buttons
    assert "tiếp tục phản ánh" in out and "loại nào" in out
    c.press("phananh:cat:ha-tang-giao-thong")
    c.press("phananh:photodone")
    replies = c.say("mấy giờ phường làm việc vậy?")  # at the address step: not the address
    assert replies[-1].text == "Bạn muốn tiếp tục phản ánh không?"
    assert "tổ dân phố" not in " ".join(r.text for r in replies)
    assert "Sự việc ở đâu" in c.text("tiếp tục")
    assert "tổ dân phố nào" in c.text("Trước số 20 Nguyễn Chí Thanh")
    assert _conv(app, "r1").data["address"] == "Trước số 20 Nguyễn Chí Thanh"


def test_a_report_can_be_left_with_a_command_and_taken_up_within_the_expiry(app, clock):
    c = Chat(app, "r1")
    c.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    out = c.text("/hoicanbo")  # another form meanwhile: the report is set aside
    assert "tiếp tục" in out
    c.say("/huy")
    assert "Đúng không" in c.text("tiếp tục")
    c.press("phananh:catok")
    assert "tiếp tục phản ánh" in c.say("mấy giờ phường làm việc?")[-1].text
    clock.advance(hours=13)
    assert "quá lâu" in c.text("tiếp tục")
    assert _conv(app, "r1").flow is None and "_parked" not in _conv(app, "r1").data


def test_thoi_drops_a_form_set_aside(app):
    c = Chat(app, "r1")
    c.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    c.press("phananh:catok")
    assert "tiếp tục phản ánh" in c.say("làm căn cước cho con mất bao lâu?")[-1].text
    assert "đã bỏ" in c.text("thôi")
    assert "_parked" not in _conv(app, "r1").data
    c.say("Rác đổ bừa bãi ở chân cầu Rồng mấy hôm nay")
    c.say("mấy giờ phường làm việc?")
    assert "Đã hủy phản ánh hiện trường" in c.text("/huy")  # /huy drops a form set aside too
    assert "_parked" not in _conv(app, "r1").data


def test_in_a_group_only_the_owner_takes_up_a_form(app):
    a = Chat(app, "-100555", user_id="ua", name="Anh A")
    b = Chat(app, "-100555", user_id="ub", name="Chị B")
    a.say("/phananh", is_group=True)
    a.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay", is_group=True)
    a.say("mấy giờ phường làm việc?", is_group=True)
    assert "Đúng không" not in b.text("tiếp tục", is_group=True)
    assert "Đúng không" in a.text("tiếp tục", is_group=True)


# --- consent to publish, a name asked once --------------------------------------------------------
def test_consent_to_publish_reaches_the_public_open311_read(app):
    from bot.server import create_api
    c = Chat(app, "r1")
    c.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    c.press("phananh:catok")
    c.press("phananh:photodone")
    c.say(location=NEAR)
    c.press("phananh:grp:tdp-01")
    c.press("phananh:chatonly")
    assert "Công khai nội dung: có" in c.text("đồng ý")
    code = code_in(c.text(button="phananh:send"))
    other = code_in(file_report(Chat(app, "r2"), "Rác đổ bừa bãi ở chân cầu Rồng ban đêm", address="chân cầu Rồng"))
    assert _report(app, code).publish_description and not _report(app, other).publish_description
    api = TestClient(create_api(app, background=False))
    got = {x["service_request_id"]: x for x in api.get("/open311/v2/requests.json").json()}
    assert "kiệt 45" in got[code]["description"] and got[other]["description"] is None


def test_a_resident_without_a_name_is_asked_once_what_staff_should_call_them(app, clock):
    make_staff(app, clock)
    c = Chat(app, "z1", channel="zalo", name=None)
    c.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    c.press("phananh:catok")
    c.press("phananh:photodone")
    c.say("Kiệt 45 Lê Lợi")
    c.press("phananh:grp:tdp-01")
    assert "Cán bộ nên gọi bạn là gì?" in c.text("0905 111 222")
    assert "công khai" in c.text("bác Tư")
    assert "(bác Tư)" in c.text("không")
    code = code_in(c.text(button="phananh:send"))
    with app.db.session() as s:
        p = s.exec(select(Person).where(Person.channel_user_id == "z1")).one()
        assert p.full_name == "bác Tư" and p.display_name == "bác Tư"
    assert _report(app, code).contact_name == "bác Tư"
    card = outbox(app, "-1001000000001", "report:1:card")[0].payload["text"]
    assert "bác Tư" in card
    # the next report with a call-back does not ask again
    c.say("Đèn đường hỏng cả dãy ở kiệt 12 Trần Phú tối om")
    c.press("phananh:catok")
    c.press("phananh:photodone")
    c.say("Kiệt 12 Trần Phú")
    c.press("phananh:grp:tdp-01")
    assert "công khai" in c.text("0905 111 222")


# --- an answer to a staff question is not a new report ----------------------------------------------
def test_an_answer_to_a_staff_question_in_two_messages_does_not_start_a_report(app, clock):
    staff = make_staff(app, clock)
    res = Chat(app, "r1")
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    staff.press("pa:ask:1")
    staff.say("Rác ở phía bên trái hay bên phải kiệt?")
    assert "Đã chuyển" in res.text("Bên trái kiệt")  # typed straight after the question: it reaches staff
    clock.advance(minutes=3)
    replies = res.say("Rác ở cạnh cột điện, bốc mùi lắm, mấy hôm nay chưa ai dọn")  # reads like a report
    assert "trả lời cho cán bộ, hay một phản ánh mới" in replies[-1].text
    assert "Đã chuyển" in res.text("1")  # typed: "Trả lời cán bộ"
    fwd = outbox(app, "-1001000000001")[-1].payload
    assert "cạnh cột điện" in fwd["text"]
    with app.db.session() as s:
        assert len(list(s.exec(select(Report)))) == 1
    # long after, a complaint is a new report again
    clock.advance(hours=2)
    assert "Đúng không" in res.text("Rác đổ bừa bãi ở chân cầu Rồng mấy hôm nay")


def test_the_resident_may_say_it_is_a_new_report_after_all(app, clock):
    staff = make_staff(app, clock)
    res = Chat(app, "r1")
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    staff.press("pa:ask:1")
    staff.say("Rác có mùi không?")
    res.say("Có mùi")
    assert "phản ánh mới" in res.text("Rác đổ bừa bãi ở chân cầu Rồng mấy hôm nay")
    out = res.text("phản ánh mới")
    assert "Đúng không" in out and _conv(app, "r1").data["desc"].startswith("Rác đổ bừa bãi ở chân cầu")


# --- class notices: /dangky, /taolop, a name asked at sign-up ----------------------------------------
def test_dangky_typed_on_a_channel_without_buttons(app):
    from handlers.broadcast.models import ClassSubscription
    c = Chat(app, "z5", channel="zalo")
    assert "tổ dân phố nào" in c.text("/dangky")
    assert "chủ đề nào" in c.text("tổ 2")
    assert "Đang chọn: " in c.text("1 3")
    out = c.text("xong")
    assert "Đã đăng ký" in out and "Tổ dân phố 2" in out
    with app.db.session() as s:
        sub = s.exec(select(ClassSubscription)).one()
        assert sub.group_code == "tdp-02" and len(sub.topics) == 2


def test_taolop_typed_with_a_question_in_the_middle(app):
    from tests.broadcast_helpers import outbox as bc_outbox
    from tests.broadcast_helpers import staff_chat, subscribe_many
    subscribe_many(app, 2, group="tdp-01")
    st = staff_chat(app)
    st.say("/taolop")
    assert "lúc nào" in st.text("2")  # "2": the second topic
    conv = _conv(app, "staff-1")
    assert conv.step == "when" and conv.data["topic"]
    assert "một buổi hay" in st.text("29/11 8:00").lower()
    assert "bao nhiêu buổi" in st.text("hằng tuần").lower()
    assert "Học ở đâu" in st.text("3")
    replies = st.say("cho hỏi mấy giờ phường làm việc?")  # asked mid-form: answered, not a place
    assert replies[-1].text == "Bạn muốn tiếp tục tạo lớp học không?"
    assert "Học ở đâu" in st.text("tiếp tục")
    assert "bao nhiêu người" in st.text("Nhà văn hóa khu dân cư số 7")
    assert "Gửi thông báo cho ai" in st.text("20 người")
    assert "quan tâm" in st.text("tất cả")
    out = st.text("gửi mọi người")
    assert "Xem trước" in out and "3 buổi" in out and "Nhà văn hóa khu dân cư số 7" in out
    assert "Đã tạo lớp" in st.text("gửi")
    assert len(bc_outbox(app, kind="broadcast")) == 2


def test_a_class_sign_up_asks_a_name_once_and_the_class_list_shows_it(app):
    from handlers.broadcast.models import ClassOccurrence
    from tests.broadcast_helpers import publish_class, staff_chat
    cid = publish_class(app, capacity=5, weeks=2)
    with app.db.session() as s:
        occs = list(s.exec(select(ClassOccurrence).where(ClassOccurrence.class_id == cid).order_by(ClassOccurrence.n)))
    r = Chat(app, "z9", channel="zalo", name=None)
    replies = r.say(button=f"lop:y:{occs[0].id}")
    assert "Đã giữ chỗ" in replies[0].text and replies[-1].text.startswith("Cán bộ nên gọi bạn là gì?")
    assert "cô Ba" in r.text("cô Ba")
    replies = r.say(button=f"lop:y:{occs[1].id}")
    assert len(replies) == 1 and "Đã giữ chỗ" in replies[0].text  # never asked again
    assert "1. cô Ba" in staff_chat(app).text(f"/dangkylop {cid}")
    # someone who skips is not held up: the seat is theirs anyway
    q = Chat(app, "z10", channel="zalo", name=None)
    q.say(button=f"lop:y:{occs[0].id}")
    assert "Dạ vâng" in q.text("bỏ qua")
    assert _conv(app, "z10").flow is None
    assert len(q.say(button=f"lop:y:{occs[1].id}")) == 1  # skipped once: not asked again either


# --- through the Telegram and Zalo emulators --------------------------------------------------------


def test_a_report_with_a_question_in_the_middle_on_telegram_and_zalo(make_app, settings, understander, bot_api_emulators):
    from tests.channel_helpers import Running
    tg, zl = bot_api_emulators
    tg.reset()
    zl.reset()
    with Running(lambda settings: make_app(settings=settings, understander=FakeNLU(understander)), settings,
                 telegram=tg, zalo=zl) as r:
        # Zalo: no buttons, everything typed, numbered options
        n = 0
        for text, expect in [("/phananh", "mô tả sự việc"),
                             ("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay", "Đúng không"),
                             ("đúng", "gửi ảnh chụp"),
                             ("cho hỏi làm giấy khai sinh cần giấy tờ gì?", "Bạn muốn tiếp tục phản ánh không?\n1. Tiếp tục"),
                             ("1", "gửi ảnh chụp"),
                             ("ko có ảnh", "Sự việc ở đâu"),
                             ("Kiệt 45 Lê Lợi", "tổ dân phố nào"),
                             ("tổ 2", "số điện thoại"),
                             ("ẩn danh", "kiểm tra lại phản ánh"),
                             ("gửi", "Mã phản ánh của bạn: PA-")]:
            zl.text("zf-1", text)
            n = await_text(zl, "zf-1", n, expect)
        # Telegram: buttons pressed, a question typed in between, "Tiếp tục" pressed
        n = 0
        for kind, arg, expect in [("text", "Rác đổ bừa bãi ở chân cầu Rồng mấy hôm nay", "Đúng không"),
                                  ("press", "phananh:catok", "gửi ảnh chụp"),
                                  ("press", "phananh:photodone", "Sự việc ở đâu"),
                                  ("text", "mấy giờ phường làm việc vậy?", "Bạn muốn tiếp tục phản ánh không?"),
                                  ("press", "fres:phananh", "Sự việc ở đâu"),
                                  ("text", "Chân cầu Rồng phía Sơn Trà", "tổ dân phố nào"),
                                  ("press", "phananh:grp:tdp-03", "số điện thoại"),
                                  ("text", "0905 111 222", "công khai"),
                                  ("text", "có", "Công khai nội dung: có"),
                                  ("press", "phananh:send", "Mã phản ánh của bạn: PA-")]:
            tg.text(4242, arg) if kind == "text" else tg.press(4242, arg)
            n = await_text(tg, 4242, n, expect)
        with r.app.db.session() as s:
            rows = list(s.exec(select(Report).order_by(Report.id)))
        assert [(x.anonymous, x.publish_description, x.address) for x in rows] == [
            (True, False, "Kiệt 45 Lê Lợi"), (False, True, "Chân cầu Rồng phía Sơn Trà")]


def test_erasure_forgets_the_name_given_and_a_form_set_aside_in_a_group(app):
    me = Chat(app, "-100888", user_id="u-me", name=None)
    other = Chat(app, "-100888", user_id="u-other", name="Chị Hai")
    other.say("/start", is_group=True)  # the group's conversation row is not "mine"
    me.say("/phananh", is_group=True)
    me.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi, nhà bác Mười Sáu", is_group=True)
    assert "tiếp tục phản ánh" in me.say("mấy giờ phường làm việc?", is_group=True)[-1].text
    assert _conv(app, "-100888", "u-me").data["_parked"]["owner"] is not None
    other.say("cảm ơn", is_group=True)  # another member's message leaves it alone
    private = Chat(app, "u-me", user_id="u-me", name=None)
    private.say("/dangky")
    with app.db.session() as s:
        p = s.exec(select(Person).where(Person.channel_user_id == "u-me")).one()
        p.full_name = "Bác Mười Sáu"
        s.add(p)
        s.commit()
    private.say("/xoadulieu")
    assert "Đã xóa dữ liệu" in private.text(button="erase:xoa")
    with app.db.session() as s:  # the member's own row in the group went with what they typed
        assert [c.member for c in s.exec(select(Conversation).where(Conversation.chat_id == "-100888"))] == ["u-other"]
    with app.db.session() as s:
        p = s.exec(select(Person).where(Person.channel_user_id.like("erased-%"))).one()
        assert p.full_name is None and p.display_name is None


def test_a_form_declared_as_data_asks_in_order_checks_each_type_and_submits(app):
    from bot.forms import Date, MultiChoice, Number, Phone, Text
    got = {}

    class Survey(Form):
        name, title, submit_label = "khaosat", "khảo sát", "Gửi khảo sát"
        fields = [
            Text("who", "Bạn tên gì?", label="Tên", min_len=2),
            Number("age", "Bạn bao nhiêu tuổi?", label="Tuổi", lo=1, hi=120),
            Date("day", "Bạn rảnh ngày nào?", label="Ngày"),
            MultiChoice("likes", "Bạn thích gì?", label="Thích", choices=[
                Option("VNeID", "vneid", "l:vneid"), Option("Dịch vụ công", "dvc", "l:dvc"),
                Option("Thanh toán số", "pay", "l:pay")]),
            Phone("phone", "Số điện thoại?", label="Điện thoại", ask_if=lambda ctx, st: st.get("age", 0) >= 18),
        ]

        def validate_who(self, ctx, value):
            return "Tên này là của trợ lý rồi." if value.lower() == "trợ lý" else None

        def submit(self, ctx):
            got.update(ctx.state)
            ctx.end_flow()
            ctx.reply("Cảm ơn!")

    app.router.flow(Survey())
    app.router.command("khaosat", "thử")(lambda ctx, args: ctx.run_flow("khaosat"))
    c = Chat(app, "s1")
    assert "tên gì" in c.text("/khaosat")
    assert "của trợ lý" in c.text("trợ lý")  # validate_<field>
    assert "bao nhiêu tuổi" in c.text("An")
    assert "từ 1 đến 120" in c.text("200")
    assert "rảnh ngày nào" in c.text("30")
    assert "không có trên lịch" in c.text("31/02/2027")
    assert "thích gì" in c.text("25/12/2026")
    assert "✓ VNeID" in str(c.say("1 3")[-1].buttons)
    assert "Số điện thoại" in c.text("xong")  # asked: 30 >= 18
    out = c.text("090 1234 567")
    assert "Tuổi: 30" in out and "Ngày: 2026-12-25" in out and "Thích: VNeID, Thanh toán số" in out
    assert "sửa mục nào" in c.text("sửa")
    assert "bao nhiêu tuổi" in c.text("2")
    out = c.text("15")  # under 18: the phone no longer applies and is not shown
    assert "Tuổi: 15" in out and "Điện thoại" not in out
    assert "Cảm ơn" in c.text("gửi")
    assert got["likes"] == ["vneid", "pay"] and got["age"] == 15 and got["who"] == "An"


def test_class_forms_typed_on_zalo_and_a_name_asked_at_sign_up(make_app, settings, bot_api_emulators):
    from tests.broadcast_helpers import publish_class
    from tests.channel_helpers import Running
    _, zl = bot_api_emulators
    zl.reset()
    with Running(make_app, settings, zalo=zl) as r:
        publish_class(r.app, capacity=5)
        n = 0
        for text, expect in [("/dangky", "tổ dân phố nào"),
                             ("tổ 2", "chủ đề nào"),
                             ("1 3", "Đang chọn: "),
                             ("xong", "Đã đăng ký"),
                             ("/lophoc", "1. Tham gia"),
                             ("1", "Cán bộ nên gọi bạn là gì?"),
                             ("cô Ba", "Cảm ơn cô Ba")]:
            zl.text("zc-1", text, name="")  # a Zalo account that shares no name
            n = await_text(zl, "zc-1", n, expect)
        with r.app.db.session() as s:
            p = s.exec(select(Person).where(Person.channel == "zalo")).one()
            assert p.full_name == "cô Ba"


def test_ghinhan_answers_a_question_mid_form_and_goes_on(app):
    from bot import roles as R
    from tests.teams_helpers import enrol
    m = enrol(app, "m1", R.TEAM_MEMBER, "tdp-01", name="Lê Thị Hoa")
    m.say("/ghinhan")
    m.press("ghinhan:today")
    assert "bao nhiêu hộ" in m.text(button="ghinhan:place-door")
    replies = m.say("cho hỏi làm căn cước cho người già cần giấy tờ gì?")
    assert replies[-1].text == "Bạn muốn tiếp tục ghi nhận buổi hỗ trợ không?"
    assert "bao nhiêu hộ" in m.text("1")
    assert "bao nhiêu người" in m.text("12")
    m.say("/hoicanbo")  # another form meanwhile: the session log is set aside, not lost
    m.say("/huy")
    assert "bao nhiêu người" in m.text("tiếp tục")
    assert "cao tuổi" in m.text("15")
    assert _conv(app, "m1").data["households"] == 12


# --- a group: one form per member, not per chat ----------------------------------------------------
class Member(Chat):
    def say(self, text=None, **kw):
        kw.setdefault("is_group", True)
        return super().say(text, **kw)


def test_two_members_of_a_group_fill_reports_at_the_same_time(app):
    a = Member(app, "-100555", user_id="ua", name="Anh A")
    b = Member(app, "-100555", user_id="ub", name="Chị B")
    assert "mô tả sự việc" in a.text("/phananh")
    assert "mô tả sự việc" in b.text("/phananh")  # was: "đang có biểu mẫu của Anh A"
    assert "Đúng không" in a.text("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    assert "Đúng không" in b.text("Đèn đường hỏng cả dãy ở kiệt 12 Trần Phú tối om")
    assert "ảnh" in b.text("đúng")
    assert "ảnh" in a.text(button="phananh:catok")
    # B asks a question: B's form is set aside, A's goes on untouched
    assert "tiếp tục phản ánh" in b.say("mấy giờ phường làm việc?")[-1].text
    assert "Sự việc ở đâu" in a.text(button="phananh:photodone")
    assert "ảnh" in b.text("tiếp tục")
    b.press("phananh:photodone")
    for m, where in ((a, "Kiệt 45 Lê Lợi"), (b, "Kiệt 12 Trần Phú")):
        m.say(where)
        m.press("phananh:grp:tdp-01")
        m.press("phananh:chatonly")
        m.press("phananh:pub:no")
    assert "PA-" in b.text(button="phananh:send") and "PA-" in a.text(button="phananh:send")
    with app.db.session() as s:
        rows = {r.contact_name: (r.description, r.address) for r in s.exec(select(Report))}
    assert rows == {"Anh A": ("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay", "Kiệt 45 Lê Lợi"),
                    "Chị B": ("Đèn đường hỏng cả dãy ở kiệt 12 Trần Phú tối om", "Kiệt 12 Trần Phú")}


def test_in_a_group_a_members_typed_answers_and_buttons_never_reach_anothers_form(app):
    a = Member(app, "-100556", user_id="ua", name="Anh A")
    b = Member(app, "-100556", user_id="ub", name="Chị B")
    a.say("/phananh")
    a.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    assert "Anh A" in b.text(button="phananh:catok")  # a button of A's form
    assert "Anh A" in b.text("/huy")  # nothing of B's own to cancel: says whose form it is
    b.say("đúng")  # B has no form: not A's answer
    assert _conv(app, "-100556", "ua").step == "cat" and _conv(app, "-100556", "ub").flow is None
    assert "ảnh" in a.text("đúng")


def test_two_members_fill_forms_at_once_in_a_telegram_group(make_app, settings, understander, bot_api_emulators):
    from tests.channel_helpers import Running
    tg, _ = bot_api_emulators
    tg.reset()
    with Running(lambda settings: make_app(settings=settings, understander=FakeNLU(understander)), settings,
                 telegram=tg) as r:
        n = 0
        for user, text, expect in [(1001, "/phananh", "mô tả sự việc"), (1002, "/phananh", "mô tả sự việc"),
                                   (1001, "Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay", "Đúng không"),
                                   (1002, "Đèn đường hỏng cả dãy ở kiệt 12 Trần Phú tối om", "Đúng không"),
                                   (1002, "đúng", "ảnh"), (1001, "/huy", "Đã hủy")]:
            tg.text(-100600, text, user_id=user)
            n = await_text(tg, -100600, n, expect)
        with r.app.db.session() as s:
            rows = {c.member: (c.flow, c.step, c.data.get("desc")) for c in s.exec(select(Conversation).where(
                Conversation.channel == "telegram", Conversation.chat_id == "-100600"))}
    assert rows == {"1001": (None, None, None),
                    "1002": ("phananh", "photos", "Đèn đường hỏng cả dãy ở kiệt 12 Trần Phú tối om")}


def test_a_form_opened_when_a_group_had_one_row_moves_to_its_owners_row(app):
    a = Member(app, "-100557", user_id="ua", name="Anh A")
    b = Member(app, "-100557", user_id="ub", name="Chị B")
    a.say("/phananh")
    with app.db.session() as s:  # as before this change: the group's one row holds A's form
        c = s.exec(select(Conversation).where(Conversation.chat_id == "-100557")).one()
        c.member = ""
        s.add(c)
        s.commit()
    b.say("Rác đổ bừa bãi ở chân cầu Rồng mấy hôm nay")  # B's own report, on B's own row
    assert _conv(app, "-100557").flow == "phananh"  # A's form is not B's to take
    assert "Đúng không" in a.text("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    assert _conv(app, "-100557", "ua").data["desc"].startswith("Rác đổ bừa bãi ở đầu kiệt 45")
    assert _conv(app, "-100557").flow is None


# --- typed "hủy" / "thôi" mid-form (exploratory testing, session 4) ------------------------------
def test_a_typed_cancel_mid_form_cancels_it_where_it_is_not_an_answer(app):
    c = Chat(app, "r1")
    assert "Đúng không" in c.text("Cống trước nhà bị tắc nước đen tràn lên mặt đường")
    assert "Đã hủy phản ánh" in c.text("thôi")  # was: the category list, again and again
    assert _conv(app, "r1").flow is None
    c.say("/phananh")
    assert "Đã hủy phản ánh" in c.text("hủy")  # at the description: not a description
    c.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    c.press("phananh:catok")
    assert "Đã hủy phản ánh" in c.text("thôi không gửi nữa")  # at the photos
    # where "thôi" is one of the answers, it stays that answer
    c.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    c.press("phananh:catok")
    c.press("phananh:photodone")
    c.say("Kiệt 45 Lê Lợi")
    c.press("phananh:grp:tdp-01")
    c.press("phananh:chatonly")
    assert "kiểm tra lại phản ánh" in c.text("thôi")  # "publish? - thôi": no
    assert _conv(app, "r1").data["publish"] is False


def test_a_typed_cancel_ends_a_team_session_log(app):
    from bot import roles as R
    from tests.teams_helpers import enrol
    m = enrol(app, "m1", R.TEAM_MEMBER, "tdp-01", name="Lê Thị Hoa")
    m.say("/ghinhan")
    m.press("ghinhan:today")
    assert "Đã hủy" in m.text("thôi không ghi nữa")
    assert _conv(app, "m1").flow is None


def test_a_number_typed_after_a_form_was_set_aside_points_back_to_it(app):
    from bot import roles as R
    from tests.teams_helpers import enrol
    m = enrol(app, "m1", R.TEAM_MEMBER, "tdp-01", name="Lê Thị Hoa")
    m.say("/ghinhan")
    m.press("ghinhan:today")
    m.press("ghinhan:place-door")
    assert m.say("cho hỏi làm căn cước cho người già cần giấy tờ gì?")[-1].text.startswith("Bạn muốn tiếp tục")
    out = m.text("12")  # the figure meant for the form: say where the form is, not only "no such option"
    assert "ghi nhận buổi hỗ trợ" in out and "tiếp tục" in out
    assert "bao nhiêu hộ" in m.text("tiếp tục")


def test_the_name_question_does_not_take_a_sentence_for_a_name(app):
    # exploratory testing: after a class seat, /lophoc (which leaves the name question open) and a
    # typed "không đi nữa" for its buttons: "Cảm ơn không đi nữa, cán bộ sẽ gọi bạn như vậy."
    c = Chat(app, "n1", name="")
    c.say("/hoicanbo")  # any form will do; the name form is started directly below
    c.say("/huy")
    with app.db.session() as s:
        conv = _conv(app, "n1")
        conv.flow, conv.step, conv.data = "hoiten", "name", {}
        s.add(conv)
        s.commit()
    out = c.text("không đi nữa")
    assert "Cảm ơn không đi nữa" not in out and "tên" in out
    assert "Cảm ơn chị Lan" in c.text("chị Lan")


def test_editing_the_description_keeps_a_confirmed_category_it_still_fits(app):
    # exploratory testing: after "Sửa > Nội dung" the same category was asked again ("Đúng không ạ?"),
    # and a "gửi đi" typed there got the category list
    c = Chat(app, "r-ed")
    c.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    c.press("phananh:catok")
    c.press("phananh:photodone")
    c.say("Kiệt 45 Lê Lợi")
    c.press("phananh:grp:tdp-01")
    c.press("phananh:anon")
    c.press("phananh:edit:desc")
    assert "kiểm tra lại phản ánh" in c.text("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi cả tuần nay")
    c.press("phananh:edit:desc")  # a description of another kind: the category is asked again
    out = c.text("Đèn đường hỏng cả dãy ở kiệt 45 Lê Lợi tối om")
    assert "Đúng không" in out or "loại nào" in out


def test_tiep_tuc_with_nothing_set_aside_says_so(app):
    # exploratory testing: "tiếp tục" with no form left went to the NLU and got a list of three
    # unrelated entries (complaints, domestic violence, file tracking)
    c = Chat(app, "r-tt")
    out = c.text("tiếp tục")
    assert "Không còn biểu mẫu nào đang dở" in out


def test_a_field_named_at_the_summary_opens_it_for_editing(app):
    # exploratory testing: at /suaghinhan's summary, "số hộ" then "18" got "Bạn bấm Lưu..." twice
    from bot import roles as R
    from tests.teams_helpers import enrol
    m = enrol(app, "m1", R.TEAM_MEMBER, "tdp-01", name="Lê Thị Hoa")
    assert "Tóm tắt" in m.text("/ghinhan gõ cửa 8 hộ, kích hoạt 4 vneid, 3 cụ già")
    assert "bao nhiêu hộ" in m.text("số hộ")
    assert "Số hộ đã đến: 18" in m.text("18")
    c = Chat(app, "r-fe")
    c.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    c.press("phananh:catok")
    c.press("phananh:photodone")
    c.say("Kiệt 45 Lê Lợi")
    c.press("phananh:grp:tdp-01")
    c.press("phananh:anon")
    assert "Sự việc ở đâu" in c.text("sửa địa điểm")


def test_a_location_outside_the_ward_at_the_photo_step_moves_on_to_the_address(app):
    # exploratory testing: the outside-ward reply says "gõ địa chỉ cụ thể" but asked for photos again;
    # the typed address was then read as a question (an identity-card answer) and the form set aside
    from bot.core import Location as Loc
    c = Chat(app, "r-out")
    c.say("Quán nhậu số 40 Bạch Đằng bày bàn ghế chiếm hết vỉa hè")
    c.press("phananh:catok")
    out = c.text(location=Loc(10.77, 106.70))  # Ho Chi Minh City
    assert "ngoài địa bàn" in out and "Sự việc ở đâu" in out
    assert "tổ dân phố nào" in c.text("40 Bạch Đằng")
    assert _conv(app, "r-out").data["address"] == "40 Bạch Đằng"


def test_an_address_typed_at_the_photo_step_is_the_address(app):
    # exploratory testing: "40 Bạch Đằng" typed instead of a photo was read as a question (the
    # identity-card entry, "40" as an age) and the report set aside
    c = Chat(app, "r-addr")
    c.say("Quán nhậu bày bàn ghế chiếm hết vỉa hè mấy tối nay")
    c.press("phananh:catok")
    assert "tổ dân phố nào" in c.text("40 Bạch Đằng")
    assert _conv(app, "r-addr").data["address"] == "40 Bạch Đằng"
    c2 = Chat(app, "r-addr2")
    c2.say("Quán nhậu bày bàn ghế chiếm hết vỉa hè mấy tối nay")
    c2.press("phananh:catok")
    assert c2.say("cho hỏi làm căn cước ở đâu?")[-1].text == "Bạn muốn tiếp tục phản ánh không?"  # still a question


def test_thoi_at_a_choice_with_a_dont_know_option_cancels(app):
    c = Chat(app, "r-thoi")
    c.say("Xe tải đậu chắn ngang kiệt 20 Ông Ích Khiêm cả ngày")
    c.press("phananh:catok")
    c.press("phananh:photodone")
    c.say("Kiệt 20 Ông Ích Khiêm")
    assert "Đã hủy phản ánh" in c.text("thôi")  # was: "Không rõ", then the next question


# ------------------------------------------------------------------------ how the resident is named
_NEUTRAL_WORDS = re.compile(r"(?<!\w)(bạn|Bạn|mình|Mình)(?!\w)")


def _walk_report(c: Chat) -> list[str]:
    """A report from its first message to its code, every reply's text and button labels."""
    said = []
    for kw in (dict(text="abc xyz"), dict(button="phananh:catok"), dict(button="phananh:photodone"),
               dict(text="kiệt 12 Lê Lợi"), dict(button="phananh:grp:tdp-01"), dict(text="12"),
               dict(button="phananh:chatonly"), dict(text="đồng ý"), dict(button="phananh:send")):
        said.append("\n".join(r.text + " " + " ".join(b.text for b in r.buttons) for r in c.say(**kw)))
    return said


def test_forms_speak_to_a_resident_as_they_name_themselves(app):
    # issue 12 point 6: a resident who wrote "bác" was called "bạn" as soon as the report form began
    c = Chat(app, "addr-bac")
    first = c.text("bác muốn báo rác ở kiệt 12 Lê Lợi, mấy hôm nay không ai dọn")
    assert first.startswith("Cháu hiểu đây là phản ánh về")
    wrong, photos, place, group, contact, bad_phone, publish, summary, sent = _walk_report(c)
    assert "Bác trả lời \"Đúng\"" in wrong and "giúp cháu nhé" in wrong  # an error
    assert photos.startswith("Bác gửi ảnh chụp hiện trường") and "Bác bấm chia sẻ vị trí" in place
    assert "Bác có muốn cán bộ gọi lại" in contact and "báo cho bác qua khung chat" in contact
    assert "Bác nhập lại" in bad_phone and "Bác đồng ý không?" in publish
    assert summary.startswith("Bác kiểm tra lại phản ánh:")
    assert "Mã phản ánh của bác" in sent and "Cháu sẽ báo cho bác" in sent
    for text in (first, wrong, photos, place, group, contact, bad_phone, publish, summary, sent):
        assert not _NEUTRAL_WORDS.search(text) and "{" not in text, text
    # /hoicanbo, set aside by a command, and cancelled: the same address throughout
    assert c.text("/hoicanbo").startswith("Bác nhập câu hỏi muốn gửi cán bộ phường")
    assert "khi bác muốn quay lại" in c.text("/dangky")
    assert c.text("/huy").endswith("Bác cần gì thêm cứ nhắn cháu nhé.")
    assert c.text("tiếp tục").startswith("Cháu tiếp tục câu hỏi gửi cán bộ phường nhé.\nBác nhập câu hỏi")
    assert "Bác gõ câu hỏi bằng chữ giúp cháu nhé" in c.text(button="handoff:nothing")
    c.say("/huy")
    assert c.text("tiếp tục") == "Không còn biểu mẫu nào đang dở để tiếp tục. Bác cần gì cứ nhắn cháu nhé."


def test_forms_stay_neutral_for_a_resident_who_names_no_one(app):
    c = Chat(app, "addr-neutral")
    first = c.text("Rác đổ bừa bãi ở đầu kiệt 12 Lê Lợi mấy hôm nay không ai dọn")
    assert first.startswith("Mình hiểu đây là phản ánh về")
    wrong, photos, place, group, contact, bad_phone, publish, summary, sent = _walk_report(c)
    assert "Bạn trả lời \"Đúng\"" in wrong and "giúp mình nhé" in wrong
    assert photos.startswith("Bạn gửi ảnh chụp hiện trường") and "Bạn có muốn cán bộ gọi lại" in contact
    assert summary.startswith("Bạn kiểm tra lại phản ánh:")
    assert "Mã phản ánh của bạn" in sent and "Mình sẽ báo cho bạn" in sent
    assert not any("{" in t for t in (wrong, photos, place, group, contact, bad_phone, publish, summary, sent))


def test_staff_forms_stay_neutral_whatever_a_staff_member_calls_themselves(app, clock):
    staff = make_staff(app, clock)
    staff.say("anh muốn hỏi làm căn cước ở đâu")
    with app.db.session() as s:
        assert s.exec(select(Person).where(Person.channel_user_id == "staff-1")).one().address_term == "anh"
    for text in ("/ghiphananh", "1", "1", "Rác tràn ra đường", "7 Bạch Đằng", "1"):
        staff.say(text)
    wrong = staff.text("12")
    assert "Số điện thoại chưa đúng" in wrong and "Bạn nhập lại" in wrong and "{" not in wrong
