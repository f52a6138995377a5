"""Precedence between a report and the rules that would otherwise take the message away from it.

A message that describes a thing in the street is a report, even when it also uses a policy's
words (nlu/dialogue.py POLICIES): loan flyers stuck on poles are illegal advertising, not a loan
question; a dog that bit a child yesterday and still roams is a stray-animal report; a pothole
that "đã gây mấy vụ tai nạn", smoke that makes the children cough, are reports. The policy's
advice is not lost: the report's first reply carries it (handlers/reports/flow.py).

Emergencies stay conservative: only a hazard spoken of as a risk or as past ("sợ bị điện giật",
"hôm qua") yields, and only to a message the NLU itself reads as a report; "có người bị tai nạn
nằm giữa đường" is answered with 115 first, whatever the retrievers say."""
from __future__ import annotations

import re
from dataclasses import replace

from nlu.dialogue import POLICIES, _pfold, _rx, _vx, asks_procedure
from nlu.normalize import fold, normalize


def folded(text: str) -> str:
    return re.sub(r"\s+", " ", fold(normalize(text or ""))).strip()


# Something put up in the street: flyers, banners, paint. A loan advert is one of these.
ADVERT = _rx(r"to roi", r"quang cao", r"qc", r"rao vat", r"bang ron", r"bang zon", r"phuon", r"poster",
             r"son xit", r"xit son", r"phun son", r"son so", r"viet bay", r"dan (?:day|kin|khap|len|tren|chi chit|"
             r"bua|het|o|nham|lung tung)", r"cot dien", r"tru dien", r"cot den", r"tru den", r"tu dien",
             r"giay dan", r"to giay")
# An emergency word spoken of as a risk or as past, not as happening now.
NOT_NOW = _rx(r"so bi", r"so rang", r"so lam", r"de bi", r"de gay", r"co the", r"nguy co", r"coi chung", r"suyt",
              r"gay ra", r"gay tai nan", r"da co", r"may vu", r"nhieu vu", r"vai vu", r"lien tuc", r"thuong xuyen",
              r"hom qua", r"bua qua", r"toi qua", r"dem qua", r"hom truoc", r"bua truoc", r"tuan truoc",
              r"tuan roi", r"thang truoc", r"lan truoc", r"van (?:con|chay|tha|de|chua)")
# the same with marks, where the folded form is also another word ("sợ" / "số", "dễ" / "để")
NOT_NOW_MARKED = re.compile(r"(?<!\w)(?:sợ|dễ|từng|gây)(?!\w)")
# "cắn" only with its marks or beside its usual objects: folded "can" is also "cần", "căn".
BITE = re.compile(r"(?<!\w)cắn(?!\w)|(?<![a-z])(?:cho can|bi can|can nguoi|can tre|can con|can chau)(?![a-z])")

MIN_REPORT_CONFIDENCE = 0.5  # the NLU's own reading must be a report, and not a weak one


def report_wins(text: str, u, policy_name: str | None) -> bool:
    """True when the report the NLU found should stand against the out-of-scope policy that matched
    (its advice then goes with the report)."""
    if not policy_name or u is None or u.kind != "complaint" or (u.confidence or 0.0) < MIN_REPORT_CONFIDENCE:
        return False
    t = folded(text)
    if policy_name == "oos_scam":
        return bool(ADVERT.search(t))
    if policy_name == "oos_health":
        return True  # symptoms as the effect of something in the street ("khói làm con ho")
    if policy_name == "oos_emergency":
        return bool(NOT_NOW.search(t) or NOT_NOW_MARKED.search(normalize(text or "")))
    return False


def bitten(text: str) -> bool:
    return bool(BITE.search(normalize(text or "")) or BITE.search(folded(text)))


# The advice that goes before the report form, in the assistant's words ({you}/{me}: dialogue.speak).
NOTES = {
    "oos_scam": "Lưu ý: quảng cáo cho vay kiểu này thường là tín dụng đen hoặc lừa đảo. {You} đừng gọi theo "
                "số đó, đừng chuyển tiền hay gửi giấy tờ cho họ.",
    "oos_emergency": "Nếu có người bị thương hoặc đang gặp nguy hiểm, {you} gọi ngay 115 (cấp cứu), "
                     "114 (cháy nổ, cứu nạn) hoặc 113 (công an).",
    "oos_health": "Nếu sức khỏe của ai bị ảnh hưởng, {you} nên đến trạm y tế phường hoặc cơ sở y tế gần nhất.",
    "bite": "Người bị chó, mèo cắn cần rửa vết thương bằng xà phòng dưới vòi nước chảy và đến cơ sở y tế "
            "để được tư vấn tiêm phòng dại càng sớm càng tốt.",
}


def _words_of(policy_name: str, text: str) -> bool:
    """Does the message use the policy's words at all (its exceptions and deferrals aside)? A loan
    flyer is exempt from the scam rule, yet the warning is still worth giving with the report."""
    for name, rx, _ in POLICIES:
        if name == policy_name:
            return bool(rx.search(_pfold(text)))
    return False


EXPOSURES = {"o-nhiem", "rac-thai", "thoat-nuoc", "dong-vat"}  # "karaoke, mẹ em mất ngủ" needs no clinic


def report_note(text: str, category: str | None, policy_name: str | None) -> str | None:
    """The advice to give with a report, if any: a bite, the policy the report won against, or
    the policy whose words the report uses (a loan advert, symptoms)."""
    if category == "dong-vat" and bitten(text):
        return NOTES["bite"]
    if policy_name in NOTES:
        return NOTES[policy_name]
    if category == "quang-cao-trai-phep" and _words_of("oos_scam", text):
        return NOTES["oos_scam"]
    if category in EXPOSURES and _words_of("oos_health", text):
        return NOTES["oos_health"]  # smoke, smells, stagnant water that made someone ill
    return None


# ------------------------------------------------------------------------------ report or question

# A statement that something is wrong out there ("chó nhà bên cắn cháu hôm qua, nay vẫn thả ngoài
# đường") is a report even when its nearest knowledge-base entry is the related procedure
# ("Nuôi chó, mèo"). Only a statement: anything asked stays a question (dialogue.asks_procedure and
# the question words below), and only when the best report is close behind the entry.
ASKS = _rx(r"khong", r"ko", r"k", r"hong", r"hok", r"chua", r"sao", r"gi", r"nao", r"dau", r"the", r"nhi",
           r"ha", r"hả", r"vay a", r"duoc khong")
QUESTION_WORDS = _rx(r"lam sao", r"the nao", r"ra sao", r"o dau", r"cho nao", r"bao nhieu", r"bao lau", r"khi nao",
                     r"bao gio", r"co (?:can|phai|duoc|nen|bi|ai)", r"duoc (?:khong|ko|k)", r"phai lam", r"lam gi",
                     r"cho (?:em|toi|tui|minh|chau|con|hoi) hoi", r"hoi (?:ve|thu)", r"muon hoi",
                     r"nhu nao", r"ai (?:chiu|lo|xu ly|quan ly)", r"quy dinh", r"huong dan", r"co phep")
PROBLEM = _rx(r"khong ai", r"chua ai", r"chua (?:duoc )?(?:don|thu|sua|xu ly|thay|lay|cho)",
              r"khong (?:duoc )?(?:don|thu gom|sua|xu ly|thay|lay|cho di|lap|hoan tra)",
              r"bi (?:ai |nguoi ta )?(?:hu|hong|vo|gay|do|nga|nghet|tac|mat|trom|can|be|nut|lun|sut|bong|chat|"
              r"cua|pha|lap|chiem|lan|ngap|boi lap|dao|tong|dam|rach|nghieng|chay|tat)",
              r"tha rong", r"tha (?:ra|ngoai)", r"khong (?:ro mom|xich|deo)", r"can (?:chau|nguoi|con|tre|be)", r"boc mui",
              r"hoi thoi", r"tran (?:ra|len|vao|ngap)", r"chan (?:het|ngang|loi|duong)", r"lan chiem", r"trai phep",
              r"khong phep", r"sai phep", r"o nhiem", r"on ao", r"nguy hiem", r"(?:may|nhieu|3|2|4|5) (?:ngay|hom|bua|tuan)",
              r"ca tuan", r"van (?:tha|de|con|chua|o)", r"vut", r"do trom", r"xa (?:ra|thang)", r"sap (?:do|nga|gay)",
              r"nghieng", r"do (?:de|chan|ngang|ra)", r"nga (?:de|chan|ngang|ra)", r"hu (?:roi|het|ca)", r"te nga",
              r"dot",
              # broken, blocked, dirty, loud, dark: what goes wrong with each category's thing
              r"hu hong", r"nut (?:toac|ne|vo)", r"lam nut", r"lun sut", r"sut lun", r"bong troc", r"chop tat",
              r"tat (?:het|roi|ngom)", r"khong (?:sang|bat|tat)", r"toi (?:om|thui|mo)",
              r"ngap (?:sau|nang|lut|toi|den|het)",
              r"nghet", r"tac nghen", r"u dong", r"hoi (?:thoi|qua|lam)", r"thoi (?:qua|um|hoac)", r"nong nac",
              r"am i", r"inh oi", r"xap xinh", r"om som", r"lan (?:ra|sang|ca)", r"chiem (?:het|dung|ca|mat)",
              r"tu y", r"lung tung", r"bua bai", r"khong ai (?:don|xu ly|lo)", r"gay (?:roi|go|mat)")
# Procedures next to report categories: where a statement of a problem is likely to land, and the
# category it then most likely is (taken when the report ranking has it among its first three).
NEAR_REPORTS = {"moi-truong.thu-gom-rac": "rac-thai", "moi-truong.cay-xanh": "cay-xanh",
                "thu-y.nuoi-cho-meo": "dong-vat", "xay-dung.giay-phep": "xay-dung-trai-phep",
                "xay-dung.sua-chua-nha": "xay-dung-trai-phep", "van-hoa.viec-cuoi-viec-tang": "lan-chiem-via-he",
                "an-ninh.giay-chung-nhan-antt": "tieng-on", "thien-tai.bao-lu": "cay-xanh"}
# not "an-ninh.mat-giay-to": "bị mất ví, mất giấy tờ" states a loss, and what to do is the procedure
REPORT_OVER_QUESTION = 0.8  # the best report's fused score within this share of the entry's


def asks(text: str) -> bool:
    t = folded(text)
    if "?" in (text or "") or QUESTION_WORDS.search(t):
        return True
    last = re.sub(r"(?:\s+(?:a|ad|ah|nhe|nha|vay|z|v|ak|ạ))+$", "", t.rstrip(" .!"))
    return bool(ASKS.search(last[-12:]) and re.search(r"(?:khong|ko|k|hong|hok|chua|sao|gi|nao|dau|the|nhi|ha)$", last)) \
        or asks_procedure(text)


def report_over_question(text: str, u, understander):
    """The report a statement of a problem is, when the NLU put it on a neighbouring procedure's
    entry; None otherwise."""
    if u is None or u.kind != "faq" or u.topic not in NEAR_REPORTS or asks(text) or not PROBLEM.search(folded(text)):
        return None
    if not all(hasattr(understander, a) for a in ("scores", "fuse", "index")):
        return None
    try:
        s = understander.scores(text)  # the message's vector is cached: no second embedding
        fused = understander.fuse(s)
    except Exception:  # noqa: BLE001 - a second opinion only
        return None
    names = understander.index.label_names
    comp = [i for i, n in enumerate(names) if n.startswith("complaint:")]
    faq = names.index("faq:" + u.topic) if "faq:" + u.topic in names else None
    if not comp or faq is None:
        return None
    best = max(comp, key=lambda i: fused[i])
    if fused[best] < REPORT_OVER_QUESTION * fused[faq]:
        return None
    try:
        ranked = [c for c, _ in understander.categorize(text)[:3]]
    except Exception:  # noqa: BLE001
        ranked = []
    near = NEAR_REPORTS[u.topic]
    category = near if near in ranked else (ranked[0] if ranked else names[best].split(":", 1)[1])
    return replace(u, kind="complaint", category=category, topic=None, topics=[], ambiguous=False,
                   confidence=round(min(1.0, float(fused[best] / fused[faq])) * u.confidence, 4))


# A report with words the examples never used (a street's name, "rễ trồi lên", "cá độ") can fall
# below the retrievers' coverage floor and be read as out of scope. It is still a report when it
# states a problem, names the thing of the category the report ranking puts first, and asks no
# procedure ("ai xử lý giùm" is how reports end; "làm sao thông bồn cầu" asks how).
REPORT_ASKS = _rx(r"ai (?:chiu|lo|xu ly|quan ly|giai quyet)", r"bao ai", r"bao (?:cho )?(?:phuong|ai)",
                  r"nho (?:phuong|ai|can bo)", r"xu ly (?:giup|gium|dum|di|voi)", r"lo (?:giup|gium|dum)",
                  r"kiem tra (?:giup|gium|dum|di|voi)")
HOW_TO = _rx(r"cach (?:nao|lam|xu ly|sua|diet|thong|chua|tri|khac phuc|de)", r"lam sao", r"the nao", r"ra sao",
             r"nhu nao", r"loai nao", r"goi tho", r"tu sua", r"nen (?:lam|dung)")
MIN_FALLBACK_CATEGORY = 0.75  # the report ranking's own score for its first category


def report_over_fallback(text: str, u, understander):
    """The report an out-of-scope reading missed, or None. Only for a reading with no policy
    (an emergency, a scam, a symptom keep their answers) and never for a question."""
    if u is None or u.kind != "fallback" or u.intent or not hasattr(understander, "categorize"):
        return None
    t = folded(text)
    if not PROBLEM.search(t) or HOW_TO.search(t) or asks_procedure(text) or not_ours(text):
        return None
    if asks(text) and not REPORT_ASKS.search(t):
        return None
    try:
        ranked = understander.categorize(text)[:2]  # the message's vector is cached: no second embedding
    except Exception:  # noqa: BLE001 - a second opinion only
        return None
    if not ranked or ranked[0][1] < MIN_FALLBACK_CATEGORY:
        return None
    norm = normalize(text or "")
    named = [c for c, _ in ranked if c in _OBJECTS and _OBJECTS[c].search(norm)]
    if not named:
        return None
    return replace(u, kind="complaint", category=named[0], topic=None, topics=[], intent=None, ambiguous=False,
                   confidence=round(float(ranked[0][1]) * 0.8, 4))


# ------------------------------------------------------------------------------ neighbouring categories

def _objects() -> dict[str, re.Pattern]:
    # accent-aware (_vx): "đèn" is found in "den" and "đèn", never in "đen". The things of each
    # category, from its title and examples in the category spec, with their everyday names.
    words = {
        "rac-thai": ("rác", "xà bần", "phế thải", "phế liệu", "gạch vụn", "gạch đá vụn", "thùng rác"),
        "lan-chiem-via-he": ("lấn chiếm", "chiếm", "lấn ra", "lấn xuống", "bày bán", "bày hàng", "kê bàn", "bàn ghế",
                             "đậu xe", "đỗ xe", "hàng rong", "đậu tràn", "đậu kín", "giữ xe", "dựng rạp", "xe đẩy"),
        "xay-dung-trai-phep": ("xây", "công trình", "cơi nới", "giấy phép", "không phép", "vật liệu", "cát đá",
                               "đổ móng", "thêm tầng", "lên tầng", "san lấp", "sắt thép"),
        "tieng-on": ("ồn", "karaoke", "loa", "nhạc", "hát", "hò hét", "la hét", "ầm ĩ", "inh ỏi", "om sòm",
                     "xập xình", "máy trộn", "ầm", "rầm", "inh tai", "điếc tai", "nhức tai", "mất ngủ",
                     "không ngủ được", "tiếng"),
        # a traffic light is road equipment, not street lighting
        "chieu-sang": ("đèn(?! giao thông| tín hiệu| xanh| đỏ| xi nhan)", "chiếu sáng", "tối om", "tối thui",
                       "cao áp"),
        "thoat-nuoc": ("cống", "ngập", "hố ga", "mương", "thoát nước", "nước thải", "úng", "song chắn rác",
                       "hố thu"),
        "cay-xanh": ("cây", "cành", "nhánh cây", "gốc cây", "rễ cây", "tán cây"),
        "o-nhiem": ("khói", "mùi", "bụi", "hôi", "ô nhiễm", "khét", "hóa chất", "váng"),
        "ha-tang-giao-thong": ("ổ gà", "ổ voi", "mặt đường", "lan can", "biển báo", "sụt lún", "lún", "nứt",
                               "gờ giảm tốc", "đèn giao thông", "đèn tín hiệu", "dải phân cách", "gạch lát",
                               "đào đường", "hoàn trả"),
        "an-ninh-trat-tu": ("trộm", "cướp", "giật", "giựt", "đánh nhau", "ma túy", "đánh bạc", "cờ bạc",
                            "hút chích", "ẩu đả", "cá độ", "đua xe", "lạng lách", "bảo kê", "gây gổ", "đáng ngờ",
                            "kim tiêm", "ăn tiền"),
        "quang-cao-trai-phep": ("quảng cáo", "tờ rơi", "băng rôn", "rao vặt", "phướn", "sơn xịt", "vẽ bậy"),
        "dong-vat": ("chó", "mèo", "xác", "bò", "heo", "gà", "chuột", "dê", "trâu", "vịt", "thả rông"),
    }
    return {c: _vx(*ws) for c, ws in words.items()}


_OBJECTS = _objects()
CLOSE_CATEGORIES = 0.1  # two categories this close in the report ranking: the thing named decides
NEAR_CATEGORIES = 0.2  # ...this close, when the NLU's own category names nothing of its own

# Pairs of categories whose things go together, and what tells them apart (the category spec's
# examples): a drain that is blocked or overflows is a drain problem, its smell a consequence
# (someone discharging into it is pollution); a sidewalk or road taken by a structure or a shop's
# goods is encroachment, unless building work is what is reported.
_DRAIN = _vx(r"cống", r"hố ga", r"mương", r"thoát nước", r"nắp cống", r"miệng cống")
_OVERFLOW = _vx(r"nghẹt", r"tắc", r"tràn", r"trào", r"ứ", r"ngập", r"không thoát")
_DISCHARGE = _vx(r"xả")
_TAKEN = _vx(r"lấn (?:ra |xuống |chiếm |hết |cả )?(?:vỉa hè|lòng đường|lề đường|lề|mặt đường|hè phố)",
             r"(?:ra|tràn ra|chiếm|hết) (?:vỉa hè|lòng đường|lề đường|mặt đường)")
_SHOP = _vx(r"cửa hàng", r"tiệm", r"đại lý", r"quán", r"nhà hàng", r"sạp", r"kho")
_BUILDING_WORK = _vx(r"đang xây", r"xây nhà", r"xây thêm", r"công trình", r"cơi nới", r"giấy phép", r"không phép",
                     r"sai phép", r"thêm tầng", r"lên tầng", r"đổ móng", r"sửa nhà")


def _precedence(text: str, pair: set[str]) -> str | None:
    norm = normalize(text or "")
    if pair == {"thoat-nuoc", "o-nhiem"}:
        if _DRAIN.search(norm) and _OVERFLOW.search(norm) and not _DISCHARGE.search(norm):
            return "thoat-nuoc"
    if pair == {"lan-chiem-via-he", "xay-dung-trai-phep"}:
        if _TAKEN.search(norm) and (_SHOP.search(norm) or not _BUILDING_WORK.search(norm)):
            return "lan-chiem-via-he"
    return None


def settle_category(text: str, u, understander):
    """Between the nearest categories, the one whose thing the message names ("cây đổ ngang
    đường sau trận mưa" names a tree, not a drain), or the one a pair's distinction picks (a
    blocked drain, not the smell). None when the ranking is clear, or when the message names
    both things or neither."""
    if u is None or u.kind != "complaint" or not hasattr(understander, "categorize"):
        return None
    try:
        ranked = understander.categorize(text)[:3]
    except Exception:  # noqa: BLE001 - a second opinion only
        return None
    if len(ranked) < 2:
        return None
    t = normalize(text or "")
    pick = None
    if ranked[0][1] - ranked[1][1] < 2 * NEAR_CATEGORIES:
        pick = _precedence(text, {ranked[0][0], ranked[1][0]})
    if pick is None and ranked[0][1] - ranked[1][1] < CLOSE_CATEGORIES:
        named = [c for c, _ in ranked[:2] if c in _OBJECTS and _OBJECTS[c].search(t)]
        pick = named[0] if len(named) == 1 else None
    if pick is None and u.category in _OBJECTS and not _OBJECTS[u.category].search(t):
        # the category read names nothing of its own: a close one whose thing is named
        near = [c for c, v in ranked if ranked[0][1] - v < NEAR_CATEGORIES]
        named = [c for c in near if c in _OBJECTS and _OBJECTS[c].search(t)]
        pick = named[0] if len(named) == 1 else None
    if pick is None or pick == u.category:
        return None
    return replace(u, category=pick)


# ------------------------------------------------------------------------------ evidence of a report

# A report speaks of something out there: a thing or place in the street, or a problem. "ẩn danh"
# alone, "tuần đó tôi bận, không đi được" (a reply to a notice) name neither, whatever label their
# folded words happen to sit nearest ("an ninh", "tối"). Accent-aware: "ghê" is not "ghế".
_PLACES = ("đường", "vỉa hè", "lề đường", "lòng đường", "lộ giới", "hẻm", "kiệt", "ngõ", "ngách", "khu phố",
           "tổ dân phố", "chợ", "công viên", "nhà", "cột", "trụ điện", "cầu", "sông", "hồ", "bãi", "khu", "xóm",
           "phố", "ngã tư", "ngã ba", "trường", "hàng xóm", "quán", "xe", "công trình", "tường", "mặt tiền",
           "bảng hiệu", "biển hiệu", "banner", "sơn", "dao", "đe dọa", "tụ tập", "bóng cười", "chích hút",
           "xưởng", "máy", "tiếng", "khoan", "cưa", "đục", "say", "xỉn", "nhậu", "đập phá", "quậy", "gây rối",
           "chửi", "dây điện", "cháy", "nước", "đất", "cát", "bùn", "cây", "rác")
_EVIDENCE = _vx(*_PLACES)


def has_report_evidence(text: str) -> bool:
    t = normalize(text or "")
    return bool(PROBLEM.search(folded(text)) or _EVIDENCE.search(t) or any(rx.search(t) for rx in _OBJECTS.values()))


# ------------------------------------------------------------------------------ not the ward's report

# Not everything broken is the ward's to fix. A thing inside one's own home (a blocked toilet, a
# noisy air conditioner, a bulb in the bathroom) is a private repair: the NLU reads it as the
# report its words resemble, yet it names no street, no neighbour, nothing public. A neighbour's
# air conditioner roaring all night, or a street light, stays a report.
HOUSEHOLD = _vx(r"bồn cầu", r"toilet", r"lavabo", r"bồn rửa", r"chậu rửa", r"máy lạnh", r"điều hòa", r"tủ lạnh",
                r"máy giặt", r"quạt", r"ti vi", r"tivi", r"bình nóng lạnh", r"máy nước nóng", r"nhà tắm", r"phòng tắm",
                r"nhà vệ sinh", r"phòng ngủ", r"phòng khách", r"nhà bếp", r"bếp ga", r"ổ cắm", r"công tắc",
                r"cầu dao", r"wifi", r"mạng internet", r"mái nhà", r"dột", r"chậu cây", r"cây cảnh")
# one's own home, in a how-to question ("cách diệt chuột trong nhà"); alone it is also where smoke
# or flood water ends up, which is a report
OWN_HOME = _vx(r"trong nhà", r"nhà tôi", r"nhà tui", r"nhà mình", r"nhà em", r"nhà con", r"nhà cháu")
OUTSIDE = _vx(r"hàng xóm", r"nhà bên", r"bên cạnh", r"kế bên", r"sát vách", r"đối diện", r"nhà số", r"quán",
              r"đường", r"kiệt", r"hẻm", r"ngõ", r"vỉa hè", r"lề", r"công cộng", r"công viên", r"chợ", r"trường",
              r"khu phố", r"tổ dân phố", r"chung cư", r"cống", r"tràn vào", r"vào nhà", r"ngập", r"hồ", r"ao", r"sông",
              r"kênh", r"mương", r"bãi")
# Reports from elsewhere: the ward takes reports about its own streets only. Names far from any
# ward's own streets (Đà Nẵng has a "Hải Phòng" street and a "Ngã ba Huế": those are not here).
ELSEWHERE = _vx(r"hà nội", r"sài gòn", r"sg", r"tp hcm", r"tphcm", r"hcm", r"thành phố hồ chí minh",
                r"quận (?:1|3|4|5|6|7|8|10|11|12)", r"cần thơ", r"nha trang", r"vũng tàu", r"đà lạt", r"bình dương",
                r"đồng nai", r"hải dương", r"nghệ an", r"thanh hóa")


def not_ours(text: str) -> str | None:
    """Why a report-like message is not a report for this ward ("oos_household": a repair inside
    one's own home; "oos_elsewhere": another city), or None."""
    norm = normalize(text or "")
    if ELSEWHERE.search(norm):
        return "oos_elsewhere"
    if (HOUSEHOLD.search(norm) or (OWN_HOME.search(norm) and HOW_TO.search(folded(text)))) \
            and not OUTSIDE.search(norm):
        return "oos_household"
    return None
