"""Reports against the out-of-scope policies, through the engine: a thing in the street is a report
(nlu/report_rules.py) and the policy's advice goes with it; a question or an emergency happening
now keeps the policy's answer."""
from __future__ import annotations

import pytest

from bot.models import Conversation
from handlers.reports import service as S
from nlu import report_rules
from nlu.understand import Understanding
from tests.conftest import Chat


def _flow(app, chat_id):
    from sqlmodel import select
    with app.db.session() as s:
        conv = s.exec(select(Conversation).where(Conversation.chat_id == chat_id)).first()
        return (conv.flow if conv else None),


@pytest.mark.parametrize("text, category, note", [
    # loan flyers on poles: illegal advertising, with the scam warning (was: oos_scam, no report)
    ("tờ rơi cho vay tiền nhanh dán kín cột điện đầu kiệt tổ 4", "quang-cao-trai-phep", "tín dụng đen"),
    ("qc vay nong dan day tru dien truoc nha", "quang-cao-trai-phep", "tín dụng đen"),
    # a dog that bit a child yesterday and still roams: stray animal, with rabies advice (was: oos_emergency)
    ("chó nhà ai thả rông cắn con tôi chảy máu chân hôm qua, nay nó vẫn chạy ngoài kiệt", "dong-vat", "phòng dại"),
    # a hazard spoken of as a risk or the past: the report, with the emergency numbers
    ("ổ gà lớn giữa đường đã gây mấy vụ tai nạn", "ha-tang-giao-thong", "115"),
    # a symptom as the effect of smoke: pollution, with where to get care (was: oos_health)
    ("khói đốt rác ở bãi đất trống bay vào nhà làm con tôi ho sốt mấy hôm nay", "o-nhiem", "trạm y tế"),
])
def test_a_thing_in_the_street_is_a_report_with_the_advice_first(app, text, category, note):
    chat = Chat(app, "rep-" + str(abs(hash(text)) % 100_000))
    out = chat.say(text)
    assert note in out[0].text, out[0].text
    assert _flow(app, chat.chat_id)[0] == "phananh"
    assert S.category_title(app, category) in out[1].text, out[1].text  # "Mình hiểu đây là phản ánh về: ..."


@pytest.mark.parametrize("text, expect", [
    ("có người bị tai nạn xe máy nằm giữa đường", "115"),       # happening now: numbers, no form
    ("cây đổ đè trúng người đi đường, đang chảy máu nhiều", "115"),
    ("app vay tiền gọi điện đe dọa cả nhà", "113"),             # a loan question, not a flyer
    ("chỗ nào cho vay nóng không cần thế chấp", "113"),
    ("bé bị sốt 38 độ uống thuốc gì", "trạm y tế"),
])
def test_questions_and_emergencies_keep_the_policy_answer(app, text, expect):
    chat = Chat(app, "pol-" + str(abs(hash(text)) % 100_000))
    out = chat.say(text)
    assert expect in out[0].text, out[0].text
    assert _flow(app, chat.chat_id)[0] is None


def test_ask_gives_the_category_and_the_warning_first(app):
    from bot.cli import AskSession
    rec = AskSession(app).ask("to roi cho vay tien nhanh dan khap cot dien kiet 12", "s1")
    assert (rec["kind"], rec["category"]) == ("complaint", "quang-cao-trai-phep")
    assert "tín dụng đen" in rec["reply"] and rec["replies"] >= 2  # the warning, then the report form
    rec = AskSession(app).ask("quan nhau dau kiet hat karaoke toi 1h sang", "s2")
    assert (rec["kind"], rec["category"]) == ("complaint", "tieng-on")
    assert "Lưu ý" not in rec["reply"] and "115" not in rec["reply"]  # no advice where none is due


def test_report_wins_rules():
    rep = Understanding("complaint", category="quang-cao-trai-phep", confidence=0.9)
    weak = Understanding("complaint", category="quang-cao-trai-phep", confidence=0.3)
    faq = Understanding("faq", topic="an-toan-so.lua-dao", confidence=0.9)
    assert report_rules.report_wins("tờ rơi cho vay dán cột điện", rep, "oos_scam")
    assert not report_rules.report_wins("cho vay nóng lãi thấp", rep, "oos_scam")  # no advert named
    assert not report_rules.report_wins("tờ rơi cho vay dán cột điện", weak, "oos_scam")
    assert not report_rules.report_wins("tờ rơi cho vay dán cột điện", faq, "oos_scam")
    # "sợ" with its marks is a risk; folded "so" is also "số" (a house number), never a risk
    assert report_rules.report_wins("dây điện đứt, sợ bị điện giật", rep, "oos_emergency")
    assert not report_rules.report_wins("nhà số 7 đang cháy", rep, "oos_emergency")
    assert not report_rules.report_wins("chính trị", rep, "oos_politics")
    assert report_rules.bitten("cho can nguoi o kiet 5") and report_rules.bitten("chó cắn")
    assert not report_rules.bitten("cần xin giấy phép nuôi chó")


@pytest.mark.parametrize("text, kind, label", [
    # a statement of a problem that the retrievers put on the neighbouring procedure (was: FAQ)
    ("chó nhà hàng xóm cắn cháu tôi hôm qua, nay vẫn thả ngoài đường", "complaint", "dong-vat"),
    ("mưa bão làm cây đổ chắn đường", "complaint", "cay-xanh"),
    # the procedure asked about stays a question
    ("nuôi chó có phải đăng ký không", "faq", "thu-y.nuoi-cho-meo"),
    ("lịch thu gom rác tổ 5", "faq", "moi-truong.thu-gom-rac"),
    ("cây trước nhà cao quá, muốn xin chặt thì làm sao", "faq", "moi-truong.cay-xanh"),
])
def test_a_statement_of_a_problem_is_a_report_a_question_stays_a_question(app, text, kind, label):
    from bot.cli import AskSession
    rec = AskSession(app).ask(text, "q-" + str(abs(hash(text)) % 100_000))
    assert (rec["kind"], rec["category"] or rec["topic"]) == (kind, label), rec


def test_asks():
    for q in ("nuôi chó có cần rọ mõm không", "cay do thi bao ai?", "xin phép chặt cây ở đâu",
              "cây đổ ai chịu trách nhiệm xử lý", "rac bao gio moi thu a"):
        assert report_rules.asks(q), q
    for s in ("chó thả rông không rọ mõm cả tuần nay", "cây đổ chắn ngang đường sau mưa",
              "rác 3 ngày chưa ai thu ạ"):
        assert not report_rules.asks(s), s


class _Ranked:
    """An understander whose report ranking is given."""

    def __init__(self, ranked):
        self.ranked = ranked

    def categorize(self, text):
        return self.ranked


def test_the_thing_named_settles_two_close_categories():
    u = Understanding("complaint", category="thoat-nuoc", confidence=0.75)
    close = _Ranked([("thoat-nuoc", 0.9), ("cay-xanh", 0.86)])
    # a tree is named, no drain: the tree
    assert report_rules.settle_category("cây đổ ngang đường sau trận mưa tối qua", u, close).category == "cay-xanh"
    assert report_rules.settle_category("cay do ngang duong sau tran mua", u, close).category == "cay-xanh"
    # both named, or a clear ranking: the NLU's category stands
    assert report_rules.settle_category("cây đổ lấp miệng cống", u, close) is None
    assert report_rules.settle_category("cây đổ sau mưa", u, _Ranked([("thoat-nuoc", 0.9), ("cay-xanh", 0.6)])) is None
    # "đèn" is not "đen": black water names no street light
    u2 = Understanding("complaint", category="thoat-nuoc", confidence=0.75)
    assert report_rules.settle_category("nước đen ngòm", u2, _Ranked([("thoat-nuoc", 0.9), ("chieu-sang", 0.85)])) is None
    assert report_rules.settle_category("den duong hu", u2,
                                        _Ranked([("thoat-nuoc", 0.9), ("chieu-sang", 0.85)])).category == "chieu-sang"


def test_a_tree_felled_by_rain_is_a_tree_through_the_engine(app):
    from bot.cli import AskSession
    rec = AskSession(app).ask("cay do ngang duong Le Loi sau tran mua toi qua, xe khong qua duoc", "t1")
    assert (rec["kind"], rec["category"]) == ("complaint", "cay-xanh")


# ------------------------------------------------------------------------------ reports that generalise

@pytest.mark.parametrize("text, category", [
    # words the examples never used (a street's name, "rễ trồi lên"): read as out of scope before
    ("den giao thong nga tu Nguyen Van Linh - Ham Nghi bi hu, xe chay lon xon", "ha-tang-giao-thong"),
    ("Trại gà sau nhà bốc mùi phân gà, ruồi nhặng kéo đến nhiều lắm", "o-nhiem"),
    # a blocked drain overflowing is a drain problem, its smell the consequence (was: pollution)
    ("Nước thải từ cống tràn lên mặt đường kiệt 60, đen ngòm, bốc mùi", "thoat-nuoc"),
    # a sidewalk taken by a built step is encroachment (was: illegal building)
    ("Nhà số 23 tự xây bậc tam cấp với bồn hoa lấn ra vỉa hè gần 1 mét", "lan-chiem-via-he"),
])
def test_reports_in_unseen_words_get_their_category(app, text, category):
    from bot.cli import AskSession
    rec = AskSession(app).ask(text, "g-" + str(abs(hash(text)) % 100_000))
    assert (rec["kind"], rec["category"]) == ("complaint", category), rec


@pytest.mark.parametrize("text, intent, says", [
    # a repair inside one's own home is no report for the ward, and no handoff is offered
    ("bồn cầu nhà mình bị tắc, thông kiểu gì", "oos_household", "trong nhà"),
    ("máy lạnh nhà tôi chạy kêu ồn quá", "oos_household", "trong nhà"),
    # another city's street
    ("ở Sài Gòn vỉa hè bị lấn chiếm hết, ai quản lý", "oos_elsewhere", "phường Hải Châu"),
    # a person fallen into water is an emergency, not pollution; wars and national policy are politics
    ("có người rơi xuống sông, cứu với", "oos_emergency", "115"),
    ("sao nhà nước không hạ giá điện", "oos_politics", "chính trị"),
])
def test_not_the_wards_report(app, text, intent, says):
    from bot.cli import AskSession
    rec = AskSession(app).ask(text, "n-" + str(abs(hash(text)) % 100_000))
    assert (rec["kind"], rec["intent"]) == ("fallback", intent), rec
    assert says in rec["reply"] and "cán bộ" not in " ".join(rec["buttons"]), rec


def test_a_neighbours_noise_and_a_street_stay_reports():
    assert report_rules.not_ours("máy lạnh nhà hàng xóm kêu ồn suốt đêm") is None
    assert report_rules.not_ours("mưa là nước tràn vào trong nhà") is None
    assert report_rules.not_ours("Hồ điều hòa gần nhà nổi váng, bốc mùi") is None  # a lake, not an air conditioner
    assert report_rules.not_ours("rác ở đường Hải Phòng chưa thu") is None  # a Đà Nẵng street
    assert report_rules.not_ours("khói đốt rác bay vào trong nhà") is None
    assert report_rules.not_ours("cách diệt chuột trong nhà") == "oos_household"


def test_an_out_of_scope_reading_becomes_the_report_it_states():
    fb = Understanding("fallback", confidence=0.5)
    ranked = _Ranked([("ha-tang-giao-thong", 0.81), ("chieu-sang", 0.8)])
    u = report_rules.report_over_fallback("den giao thong nga tu bi hu", fb, ranked)
    assert (u.kind, u.category) == ("complaint", "ha-tang-giao-thong")
    # no problem stated, a how-to question, a weak ranking, a policy's answer: unchanged
    assert report_rules.report_over_fallback("den giao thong nga tu", fb, ranked) is None
    assert report_rules.report_over_fallback("den giao thong bi hu thi sua the nao", fb, ranked) is None
    assert report_rules.report_over_fallback("den giao thong bi hu", fb,
                                             _Ranked([("ha-tang-giao-thong", 0.6), ("chieu-sang", 0.5)])) is None
    pol = Understanding("fallback", intent="oos_emergency", confidence=1.0)
    assert report_rules.report_over_fallback("den giao thong bi hu", pol, ranked) is None
    # how reports end ("ai xử lý giùm") is no question
    u = report_rules.report_over_fallback("den giao thong bi hu ca tuan, ai xu ly gium", fb, ranked)
    assert u.kind == "complaint"


def test_pairs_of_categories_are_told_apart_by_the_spec():
    u = Understanding("complaint", category="o-nhiem", confidence=0.8)
    ranked = _Ranked([("o-nhiem", 0.94), ("thoat-nuoc", 0.89)])
    u2 = report_rules.settle_category("cống bị nghẹt, nước tràn lên đường bốc mùi", u, ranked)
    assert u2.category == "thoat-nuoc"
    # someone discharging into the drain is pollution
    assert report_rules.settle_category("lò mổ xả nước thải ra mương, mùi hôi", u, ranked) is None
    x = Understanding("complaint", category="xay-dung-trai-phep", confidence=0.8)
    ranked = _Ranked([("xay-dung-trai-phep", 1.0), ("lan-chiem-via-he", 0.77)])
    assert report_rules.settle_category("cửa hàng vật liệu để cát đá tràn ra lòng đường", x, ranked).category \
        == "lan-chiem-via-he"
    assert report_rules.settle_category("nhà số 5 xây thêm tầng không phép, lấn ra vỉa hè", x, ranked) is None
