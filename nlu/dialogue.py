"""The conversation layer over single-message understanding, kept cheap: small lexical rules over
normalised, diacritic-folded text, no second embedding call.

- `aspect(text)`: which part of a procedure a message asks about (fee, time, documents, where,
  online, who, steps, legal), so "hết bao nhiêu tiền" gets the fee section;
- `resolve(text, u, topic)`: a follow-up on the topic under discussion, or a new topic;
- `topics_in(text, u, understander)`: several procedures in one message (nlu/multitopic.py);
- `policy(text, u)`: out-of-scope messages that need a specific answer (emergency, health, scam,
  politics, small talk), decided before anything else;
- `self_term(text)`: how a person names themselves ("bà", "cháu"), to answer in kind.
"""
from __future__ import annotations

import re
from dataclasses import replace

from nlu.normalize import fold, normalize, normalize_tones, syllables
from nlu.understand import Understanding


def _rx(*phrases: str) -> re.Pattern:
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(phrases) + r")(?![a-z0-9])")


# Checked in this order: the first aspect found wins ("mất bao lâu và bao nhiêu tiền" -> fee).
ASPECTS: list[tuple[str, re.Pattern]] = [
    ("fee", _rx(r"le phi", r"phi", r"bao nhieu tien", r"het bao nhieu", r"mat bao nhieu", r"ton bao nhieu",
                r"chi phi", r"mien phi", r"nop bao nhieu", r"dong bao nhieu", r"tien le phi", r"mat tien",
                r"ton tien", r"het tien", r"bao nhieu k", r"tra tien", r"co mat tien", r"gia bao nhieu")),
    ("time", _rx(r"bao lau", r"may ngay", r"bao nhieu ngay", r"thoi gian", r"mat may", r"lau khong",
                 r"lau ko", r"lau k", r"thoi han giai quyet", r"may hom", r"may tuan", r"khi nao (?:co|xong|lay|nhan)",
                 r"bao gio", r"khi nao", r"bao lau thi xong", r"co nhanh khong", r"lau the", r"co ket qua",
                 r"lay ket qua", r"nhan ket qua", r"trong ngay", r"lay ngay", r"lay luon", r"co ngay")),
    ("documents", _rx(r"giay to", r"giay gi", r"can gi", r"can nhung gi", r"mang gi", r"mang theo",
                      r"mang nhung gi", r"ho so gom", r"ho so can", r"ho so gi", r"chuan bi gi", r"chuan bi nhung",
                      r"can giay", r"thu tuc gi", r"nhung giay", r"can mang", r"phai co gi", r"can co gi")),
    ("online", _rx(r"truc tuyen", r"qua mang", r"dich vu cong", r"tren mang", r"qua app", r"tren app",
                   r"tai nha", r"khong can (?:di|den|len)", r"tren dien thoai", r"qua dien thoai", r"qua zalo",
                   r"qua vneid", r"tren vneid", r"qua mang duoc")),
    ("where", _rx(r"o dau", r"cho nao", r"noi nao", r"dia chi", r"di dau", r"nop o", r"den dau", r"toi dau",
                  r"phong nao", r"co quan nao", r"lam o", r"nop cho ai", r"o cho nao", r"den cho nao", r"ra dau",
                  r"dau lam", r"cho nao lam")),
    ("who", _rx(r"ai (?:duoc|lam|di|co the|phai|nop)", r"nguoi nao", r"dieu kien", r"uy quyen", r"lam ho(?! (?:so|chieu|khau|kinh doanh|ngheo|can ngheo|tich|gia dinh))",
                r"lam thay", r"di thay", r"nho nguoi", r"doi tuong", r"nop thay", r"nguoi khac")),
    ("legal", _rx(r"can cu", r"luat nao", r"nghi dinh", r"thong tu", r"van ban nao", r"quy dinh nao",
                  r"phap ly", r"theo luat")),
    ("steps", _rx(r"cac buoc", r"quy trinh", r"trinh tu", r"lam the nao", r"lam sao", r"cach lam",
                  r"lam nhu the nao", r"huong dan", r"the nao", r"thu tuc the nao")),
]

# Words that carry no topic: particles, pronouns, question words, the asking itself. A message
# left with no other word after these and its aspect words is elliptical. Written with diacritics:
# unaccented typing is matched on folded forms, except those that are also topic syllables
# ("can" may be "căn" of căn cước, "tu" the "tử" of khai tử).
FILLER = set("""
thế thì vậy còn cho hỏi được không à ạ nhé nha nhỉ ơi mình tôi tui em chị anh bác bà ông cô chú
cháu là làm cần phải đi nữa thêm vui lòng xin cảm ơn cám rồi sao gì nào bao nhiêu mấy mỗi hả hông có và
với cả luôn lại cũng nếu mà để ở từ đến của này đó kia đây thôi vâng dạ ừ nhiều ít một muốn biết
hiện nay bây giờ trước sau khi thủ tục việc cái những các xong chưa bạn trợ lý giúp dùm giùm nghe
nói ok về hết mất tốn tiền phí trả nộp đóng chỉ bảo hướng dẫn vs đc ko k ak hem đâu hay hoặc
phường quận xã kết quả lấy nhận bao giờ khi nào lâu nhanh chậm online trực tuyến ai người
hồ sơ giấy tờ ra vào trong ngày
""".split())
_PLAIN_AMBIGUOUS = {"can", "tu", "ba", "co", "ket", "hon", "sinh", "ho", "dat", "nha", "anh"}  # "anh": "phản ánh"
FILLER_PLAIN = {fold(w) for w in FILLER} - _PLAIN_AMBIGUOUS

# Terms whose syllables are filler elsewhere ("sao" asks why, "bản" counts): here they name the topic.
TERMS = _rx(r"sao y", r"ban sao", r"sao luc", r"sao chep")

FOLLOWUP_MARKERS = _rx(r"the", r"vay", r"con", r"the con", r"vay con", r"con nua", r"roi")


# "vậy còn khai tử?", "thế còn tạm vắng thì sao": a conversational frame around a topic. Read
# alone, the frame words sit nearer small talk than any procedure.
_FRAME_HEAD = re.compile(r"^(?:(?:vay|the|rua|ri|vay thi|the thi)\s+)?con\s+")
_FRAME_TAIL = re.compile(r"\s+thi\s+(?:sao|the nao|ra sao|rang|lam sao|seo)(?:\s+(?:a|vay|nhi|ha|nha|day|ban))*$")
_STRONG_HEAD = re.compile(r"^(?:vay|the|rua|ri|vay thi|the thi)\s+con\s+")


def without_frame(text: str) -> str | None:
    """The message without a follow-up frame ("vậy còn X?", "còn X thì sao" -> "X"), None when it
    has none. A bare leading "còn" counts only with the closing "thì sao": it is also "child"."""
    t = re.sub(r"[?!.,…]+", " ", folded(text)).split()
    t = " ".join(t)
    core = _FRAME_TAIL.sub("", t)
    core = (_FRAME_HEAD if core != t else _STRONG_HEAD).sub("", core).strip()
    return core if core != t and len(core.split()) >= 2 else None


_SENTENCE = re.compile(r"(?<=[.?!\n])\s+|\n+")
_ASKS = _rx(r"khong", r"ko", r"o dau", r"the nao", r"ra sao", r"bao lau", r"bao nhieu", r"gi", r"nao",
            r"duoc khong", r"lam sao", r"hong", r"rang", r"o mo", r"chi rua")


def question_part(text: str, min_words: int = 4) -> str | None:
    """The sentence of a long message that asks: the last one ending in "?", else the last one
    holding a question word; None when the message is one sentence or none asks."""
    parts = [p.strip() for p in _SENTENCE.split(text or "") if p and p.strip()]
    if len(parts) < 2:
        return None
    asking = [p for p in parts if p.endswith("?")] or [p for p in parts if _ASKS.search(folded(p))]
    q = asking[-1] if asking else ""
    return q if len(q.split()) >= min_words else None


def folded(text: str) -> str:
    return fold(normalize(text or ""))


def aspect(text: str) -> str | None:
    t = folded(text)
    for name, rx in ASPECTS:
        if rx.search(t):
            return name
    return None


def typed_with_marks(words: list[str], share: float = 0.3) -> bool:
    """Does the message carry diacritics (at least one, and this share of its words)? Then a
    word typed without any ("lai" in "biên lai") is that word, not a filler word whose marks were
    left off ("lại")."""
    return sum(fold(w) != w for w in words) >= max(1, share * len(words))


def residual(text: str) -> list[str]:
    """Folded words of a message left once aspect phrases and filler are taken out."""
    words = syllables(normalize(text or ""))
    folded_words = [fold(w) for w in words]
    # judged on what was typed: expanded abbreviations ("dc" -> "được") bring marks of their own
    plain_filler = set() if typed_with_marks(syllables(text or "")) else FILLER_PLAIN
    t = " ".join(folded_words)
    starts, pos = [], 0
    for w in folded_words:
        starts.append(pos)
        pos += len(w) + 1
    covered, terms = set(), set()
    for _, rx in ASPECTS:
        for m in rx.finditer(t):
            covered.update(i for i, p in enumerate(starts) if m.start() <= p < m.end())
    for m in TERMS.finditer(t):
        terms.update(i for i, p in enumerate(starts) if m.start() <= p < m.end())
    return [f for i, (w, f) in enumerate(zip(words, folded_words))
            if i in terms or (i not in covered and w not in FILLER and not (f == w and w in plain_filler)
                              and not w.isdigit())]


def names_topic(text: str, title: str | None = None) -> bool:
    """Does the message say what it is about ("làm hộ chiếu ở đâu"), or only ask ("ở đâu")?
    With `title` (the best guess's entry title): also when two of the title's own words are in
    the message, even words that usually only ask ("dịch vụ công" in "nộp trên dịch vụ công ở đâu"
    is the topic itself)."""
    if len(residual(text)) >= 2:
        return True
    if not title:
        return False
    own = {fold(w) for w in syllables(normalize(title))} - FILLER_PLAIN
    return len(own & {fold(w) for w in syllables(normalize(text or ""))}) >= 2


# ------------------------------------------------------------------------------ context

NEW_TOPIC_CONFIDENCE = 0.5  # below this, a message naming a topic vaguely stays on the current one


def stays_on(text: str, u: Understanding, topic: str, nlu, title: str | None = None) -> bool:
    """A short follow-up whose own words the entry under discussion knows as well as the new
    guess does ("có cần đưa bé theo không" after căn cước for a child, not vaccination) stays on
    it: a new topic must be named by words the current one does not have."""
    words = residual(text)
    if not words or len(syllables(normalize(text or ""))) > SHORT_FOLLOW_UP or not hasattr(nlu, "idf_coverage"):
        return not words
    if switch_cue(text) or (title and _says_title(text, title)):
        return False  # "đăng ký thường trú cho con luôn" after khai sinh: named by its title
    rest = " ".join(words)
    try:
        here = nlu.idf_coverage(rest, "faq:" + topic)
        there = nlu.idf_coverage(rest, "faq:" + u.topic)
    except Exception:  # noqa: BLE001 - a second opinion only
        return False
    return here >= there - STAY_MARGIN


SHORT_FOLLOW_UP = 10  # syllables: longer messages say enough to be read on their own
STAY_MARGIN = 0.1
_SWITCH = _rx(r"(?:vay|the|rua) con", r"con .+ thi (?:sao|the nao|rang)", r"con ve", r"chuyen khac",
              r"hoi them", r"cau khac", r"viec khac")


def _says_title(text: str, title: str) -> bool:
    """Two of the title's own (non-filler) words, side by side in the message."""
    own = [fold(w) for w in syllables(normalize(title))]
    pairs = {a + " " + b for a, b in zip(own, own[1:]) if a not in FILLER_PLAIN or b not in FILLER_PLAIN}
    msg = [fold(w) for w in syllables(normalize(text or ""))]
    return bool(pairs & {a + " " + b for a, b in zip(msg, msg[1:])})


def switch_cue(text: str) -> bool:
    """Words that announce another subject ("vậy còn ...", "còn X thì sao", "hỏi thêm")."""
    return bool(_SWITCH.search(folded(text)))


def resolve(text: str, u: Understanding, topic: str | None,
            title: str | None = None, nlu=None) -> tuple[Understanding, str | None]:
    """(understanding, aspect) of a message in a conversation about `topic` (None: no context);
    `title`: the title of the entry the message is best matched to, if any; `nlu`: the
    understander, to weigh a short follow-up's words against the topic under discussion."""
    asp = aspect(text)
    if topic is None:
        if asp is not None and u.kind != "complaint" and not names_topic(text, title) and u.confidence < 0.75:
            # "lệ phí bao nhiêu" out of the blue: ask which procedure rather than guess
            return replace(u, kind="fallback", topic=None, intent=None, ambiguous=False), asp
        return u, asp
    named = names_topic(text)
    if u.kind == "faq" and u.topic == topic:
        # the best guess is the topic under discussion: no reason to ask which one was meant
        return replace(u, ambiguous=False), asp
    if not named and (asp is not None or (u.kind in ("faq", "fallback")
                                          and FOLLOWUP_MARKERS.search(folded(text)))):
        # "thế làm online được không", "hết bao nhiêu tiền": the topic under discussion
        return replace(u, kind="faq", topic=topic, category=None, intent=None, ambiguous=False,
                       confidence=max(u.confidence, 0.8)), asp
    if asp is not None and u.kind == "faq" and u.confidence < NEW_TOPIC_CONFIDENCE and len(residual(text)) < 3:
        return replace(u, topic=topic, ambiguous=False, confidence=0.7), asp
    if u.kind == "faq" and u.topic and nlu is not None and stays_on(text, u, topic, nlu, title):
        return replace(u, topic=topic, category=None, intent=None, ambiguous=False,
                       confidence=max(min(u.confidence, 0.8), 0.6)), asp
    return u, asp


# ------------------------------------------------------------------------------ several topics

def topics_in(text: str, u: Understanding, understander) -> list[str]:
    """Every procedure the message asks about, its best guess first (nlu/multitopic.py)."""
    if u.kind != "faq" or not u.topic:
        return []
    from nlu import multitopic
    return multitopic.topics_in(text, u.topic, understander, [c for c, _ in u.candidates])


# ------------------------------------------------------------------------------ out of scope

def _variants() -> dict[str, str]:
    """Folded letter -> every lower-case letter that folds to it ("a" -> "aàáảãạăằ...")."""
    out: dict[str, str] = {}
    for cp in range(0x61, 0x1EFA):
        ch = chr(cp)
        if ch.isalpha() and ch == ch.lower() and len(fold(ch)) == 1 and "a" <= fold(ch) <= "z":
            out[fold(ch)] = out.get(fold(ch), "") + ch
    return out


_VARIANTS = _variants()


def _vx(*phrases: str) -> re.Pattern:
    """Accent-aware phrases, matched against normalize(text). A syllable written without marks
    matches it typed with any marks ("tu" finds "tư", "tử", "từ"); a syllable written with marks
    matches itself or the same letters typed without any ("tự tử" finds "tự tử" and "tu tu",
    never "điện tử từ"). Residents type either way; the marks they do type are information."""
    def syllable(m: re.Match) -> str:
        w = m.group(0)
        if fold(w) == w:
            return "".join(f"[{_VARIANTS.get(c, c)}]" for c in w)
        w = normalize_tones(w)
        return f"(?:{w}|{fold(w)})"
    body = "|".join(re.sub(r"[a-zà-ỹđ]+", syllable, p) for p in phrases)
    return re.compile(r"(?<!\w)(?:" + body + r")(?!\w)")


def _pfold(text: str) -> str:
    """What the accent-aware patterns read: normalised text, accents kept."""
    return normalize(text or "")


# (intent, pattern, exceptions): the message gets the intent's answer when the pattern matches
# and no exception does. Marks are written where they tell words apart: "sốt" (fever) is not
# "sót" (left out), "nhân quyền" is not "chứng nhận quyền", "đa đảng" is not "đã đăng ký".
POLICIES: list[tuple[str, re.Pattern, re.Pattern | None]] = [
    # thoughts of ending one's life: before everything else, and never a form or a handoff
    # (someone else about to do it is an emergency: "có người định tự tử" gets the numbers to call)
    ("oos_selfharm", _vx(r"(?<!người )(?:muốn|định|sẽ|đòi) tự tử", r"tự sát", r"tự vẫn", r"muốn chết",
                         r"chán sống", r"không muốn sống", r"không thiết sống", r"chẳng muốn sống", r"tự làm hại",
                         r"rạch tay", r"kết liễu"),
     _vx(r"phòng chống", r"phòng ngừa", r"tập huấn")),
    ("oos_emergency", _vx(r"cấp cứu", r"ngất xỉu", r"bất tỉnh", r"khó thở", r"đột quỵ", r"chảy máu",
                          r"co giật", r"ngộ độc", r"đau ngực", r"(?<!điện )tự tử", r"tai nạn", r"méo miệng",
                          r"yếu nửa người", r"liệt nửa người đột ngột",
                          r"cháy nhà", r"đám cháy", r"hỏa hoạn", r"bốc cháy", r"đang cháy", r"sắp chết",
                          r"li bì", r"tím tái", r"sốt cao", r"điện giật", r"đuối nước", r"chết đuối", r"bị đuối",
                          # a person fallen into water ("cành cây rơi xuống mương" is a report)
                          r"(?:người|bé|em bé|trẻ|cháu|con|ai đó) (?:bị )?(?:rơi|té|ngã|trượt chân) xuống "
                          r"(?:sông|biển|hồ|giếng|mương|kênh|nước|cống|hố ga)"),
     _vx(r"hỗ trợ", r"trợ giúp", r"trợ cấp", r"bảo hiểm", r"chi phí", r"mai táng", r"bồi thường", r"giấy",
         r"phòng cháy", r"phòng chống", r"chữa cháy", r"pccc", r"tập huấn", r"diễn tập", r"kiểm tra")),
    ("oos_scam", _vx(r"vay nóng", r"tín dụng đen", r"vay tiền nhanh", r"vay online", r"app vay",
                     r"vay qua app", r"lãi ngày", r"bốc họ", r"đòi nợ", r"nợ xấu", r"vay tiền online",
                     r"cho vay lãi", r"vay lãi cao", r"đóng phí để nhận", r"chuyển khoản trước",
                     r"vay không cần thế chấp", r"vay tiền", r"cho mình vay", r"cho tôi vay", r"mượn tiền",
                     r"cho vay"),
     # policy credit is a ward topic; loan flyers stuck on walls are a report (illegal advertising);
     # "is this a scam?" is the knowledge base's entry on scams
     _vx(r"lừa đảo", r"giả danh", r"mạo danh", r"thật hay giả", r"chính sách", r"hộ nghèo", r"cận nghèo", r"vay vốn", r"nước sạch", r"sinh viên", r"tờ rơi",
         r"quảng cáo", r"qc", r"dán (?:đầy|kín|khắp|chi chít|trên|lên|ở|ngoài|trước|tờ)", r"cột điện", r"cột đèn")),
    ("oos_health", _vx(r"bị sốt", r"sốt", r"ho có đờm", r"ho khan", r"đau bụng", r"đau đầu", r"tiêu chảy",
                       r"nôn ói", r"phát ban", r"nổi mẩn", r"sốt xuất huyết", r"tay chân miệng", r"dị ứng",
                       r"uống thuốc", r"thuốc gì", r"bệnh gì", r"đau họng",
                       r"chóng mặt", r"buồn nôn", r"viêm họng", r"cảm cúm", r"sổ mũi", r"ho nhiều", r"mất ngủ",
                       r"đau răng", r"đau lưng", r"trầm cảm", r"mang thai bị"),
     _vx(r"bảo hiểm", r"bhyt", r"giấy chứng sinh", r"khai sinh", r"hồ sơ", r"trợ cấp", r"chế độ",
         r"bỏ sót", r"thiếu sót", r"sai sót", r"sót hồ sơ")),
    ("oos_politics", _vx(r"chính trị", r"biểu tình", r"tổng bí thư", r"chủ tịch nước", r"thủ tướng",
                         r"quốc hội", r"phản động", r"(?<!chứng )nhân quyền", r"dân chủ", r"bầu cử",
                         r"tổng thống", r"ứng cử viên", r"đảng cộng sản", r"đa đảng(?! ký)", r"chế độ này",
                         r"chính quyền tệ", r"nghĩ sao về", r"ý kiến của bạn về",
                         r"ủng hộ ai", r"ai đúng ai sai", r"đảng phái",
                         # wars abroad and opinions on national policy
                         r"chiến tranh (?:nga|ukraine|ukraina|israel|iran|trung đông|thế giới|thương mại)",
                         r"ý kiến của (?:bot|em|ad|trợ lý)", r"quan điểm (?:của bạn|của bot|về)",
                         r"(?:sao|tại sao|vì sao) (?:nhà nước|chính phủ) (?:không|lại|cứ|chưa|chẳng)"),
     # "quà chúc thọ của Chủ tịch nước": a procedure that names an office
     _vx(r"quà", r"chúc thọ", r"mừng thọ", r"thủ tục", r"hồ sơ", r"trợ cấp", r"giấy chứng nhận")),
    ("oos_chitchat", _vx(r"thời tiết", r"trời mưa", r"mưa không", r"có mưa", r"nhiệt độ", r"nắng nóng",
                         r"bóng đá", r"đá bóng", r"world cup", r"v league", r"tỷ số",
                         r"trận đấu", r"đội tuyển", r"ai vô địch", r"giá vàng", r"giá xăng", r"tỷ giá",
                         r"chứng khoán", r"cổ phiếu", r"bitcoin", r"giá usd", r"đô la", r"xổ số", r"vietlott",
                         r"kể chuyện", r"chuyện cười", r"hát đi", r"người yêu", r"cách nấu", r"nấu món",
                         r"ăn gì ngon", r"quán nào ngon", r"chơi ở đâu",
                         r"giá heo", r"giá cà phê", r"giá lúa", r"giá thịt", r"giá rau", r"giá điện thoại",
                         r"xem phim", r"phim gì", r"ca sĩ", r"bài hát", r"ca khúc", r"nhạc sĩ",
                         # travel and tickets
                         r"vé máy bay", r"đặt vé", r"vé tàu", r"vé xe khách", r"du lịch", r"tham quan",
                         r"khách sạn", r"tour", r"resort"),
     _vx(r"lệ phí", r"thủ tục", r"đăng ký", r"giấy", r"hồ sơ", r"phường", r"căn cước", r"xây dựng",
         r"phản ánh", r"ngập", r"ủng hộ", r"sơ tán", r"khẩn cấp", r"bão lũ", r"lưu trú", r"tạm trú",
         r"khai báo", r"hộ chiếu", r"passport", r"kinh doanh", r"cấp phép", r"xin phép")),
]
OOS_INTENTS = {name for name, _, _ in POLICIES}
_EMOJI_ONLY = re.compile(r"^[\W_]+$")

# An emergency named in a question about whom to call ("gọi cấp cứu số mấy", "cháy nhà gọi số
# nào") wants the numbers: the knowledge base's emergency-numbers entry, which leads with them.
EMERGENCY_NUMBERS_TOPIC = "khan-cap.so-dien-thoai"
ASKS_NUMBER = _vx(r"số mấy", r"số nào", r"số gì", r"số điện thoại", r"sđt", r"gọi ai", r"gọi đâu",
                  r"gọi cho ai", r"gọi số", r"tổng đài", r"đường dây nóng", r"hotline", r"số bao nhiêu",
                  r"là số", r"gọi 11[2345]", r"11[2345] là")
# Policies whose words also occur in questions and reports ("giá đất đền bù", "mẹ em mất ngủ vì
# karaoke"): a confident procedure or report wins over them.
DEFERRING = {"oos_chitchat": 0.75, "oos_health": 0.75}


def policy(text: str, u: Understanding | None = None) -> str | None:
    """The out-of-scope intent that decides the answer, or None. Lexical rules come first (an
    emergency must not depend on a retriever's ranking); then the NLU's own oos_* intents."""
    t = _pfold(text)
    for name, rx, unless in POLICIES:
        if rx.search(t) and not (unless and unless.search(t)):
            if name in DEFERRING and u is not None and u.kind in ("faq", "complaint") \
                    and u.confidence >= DEFERRING[name]:
                continue
            return name
    if u is not None and u.kind == "smalltalk" and (u.intent or "") in OOS_INTENTS:
        return u.intent
    return None


def apply_policy(text: str, u: Understanding, topics: set[str] | frozenset = frozenset()) -> Understanding:
    """The understanding the assistant acts on: out-of-scope intents become kind "fallback"
    (rejected, with the intent saying how), emoji-only messages a small-talk acknowledgement.
    `topics`: the knowledge base's entry ids (an emergency-numbers question gets that entry)."""
    name = policy(text, u)
    if name == "oos_emergency" and EMERGENCY_NUMBERS_TOPIC in topics and ASKS_NUMBER.search(_pfold(text)):
        return replace(u, kind="faq", topic=EMERGENCY_NUMBERS_TOPIC, intent=None, category=None,
                       ambiguous=False, confidence=max(u.confidence, 0.8))
    if name:
        return replace(u, kind="fallback", intent=name, topic=None, category=None, ambiguous=False)
    if text and text.strip() and _EMOJI_ONLY.match(text.strip()) and not text.strip().startswith("/"):
        return replace(u, kind="smalltalk", intent="affirm", topic=None, category=None)
    return u


# ------------------------------------------------------------------------------ question or report

# A message asking how to get something done is a question even when it names a problem ("xin
# phép xây nhà mất bao lâu", "hàng xóm lấn đất, làm đơn ở đâu"); one saying that something is
# wrong out there is a report ("nhà số 7 xây không phép").
ASKS_PROCEDURE = _vx(
    r"thủ tục", r"hồ sơ", r"lệ phí", r"làm đơn", r"viết đơn", r"nộp đơn", r"mẫu đơn", r"giấy tờ gì",
    r"cần gì", r"cần những gì", r"cần giấy", r"bao lâu", r"như thế nào", r"thế nào", r"ra sao",
    r"ở đâu", r"chỗ nào", r"cơ quan nào", r"có cần", r"có phải xin", r"phải xin", r"xin phép", r"cấp phép",
    r"xin giấy", r"xin cấp", r"đăng ký", r"hướng dẫn", r"cách làm", r"làm sao để", r"muốn làm",
    r"có được (?:phép |xây |làm |sửa |cơi |nâng )")
# ...unless it says a permit is missing or broken: that is a report about someone else's work
MISSING_PERMIT = _vx(r"không (?:có |xin |được )?(?:giấy |biển )?(?:cấp )?phép", r"chưa (?:có |xin |được )?(?:giấy )?(?:cấp )?phép",
                     r"sai phép", r"trái phép", r"vượt", r"không phép", r"không treo", r"lấn chiếm", r"không ai", r"mà không",
                     r"mà xây",
                     r"đề nghị", r"mong phường", r"xin phường", r"nhờ phường", r"phường (?:xử lý|kiểm tra|xuống)")


def asks_procedure(text: str) -> bool:
    t = _pfold(text)
    return bool(ASKS_PROCEDURE.search(t)) and not MISSING_PERMIT.search(t)


# ------------------------------------------------------------------------------ address

# term they use for themselves -> (how the bot addresses them, how the bot names itself)
ADDRESS = {
    "ông": ("ông", "cháu"), "bà": ("bà", "cháu"), "bác": ("bác", "cháu"), "cô": ("cô", "cháu"),
    "chú": ("chú", "cháu"), "anh": ("anh", "em"), "chị": ("chị", "em"),
    # someone younger ("em", "cháu") is answered by the term they chose, and the bot keeps the
    # neutral "mình": a public service does not call itself "cô" or "bác"
    "em": ("em", "mình"), "cháu": ("cháu", "mình"),
}
NEUTRAL = ("bạn", "mình")
_TERMS = "ông|bà|bác|cô|chú|anh|chị|em|cháu|tôi|tui|mình|tớ|con"
_VERBS = ("muốn|cần|hỏi|xin|báo|nhắn|đang|có|định|không|chưa|mới|vừa|là|ở|đi|làm|bị|đã|chào|cảm ơn|cám ơn|"
          "tên|năm nay|nay|sinh|thấy|nghe|biết|ko|k|cũng|vẫn|phải|được|thì|nhờ|kính")
# a greeting or a call may come first: "chào em, chị muốn...", "cháu ơi, bà báo...", "dạ chào cán bộ, bác..."
_OPENING = r"(?:(?:dạ|vâng|thưa|à|ạ|ừ|alo)\s+)?(?:(?:xin\s+)?chào(?:\s+\S+){0,2}?\s+|\S+(?:\s+\S+)?\s+ơi\s+)?"
_SELF = [
    re.compile(rf"^{_OPENING}({_TERMS})\s+(?:{_VERBS})(?!\S)"),
    re.compile(rf"(?<!\S)cho\s+({_TERMS})\s+(?:hỏi|xin|biết|được|nhờ|đăng)(?!\S)"),
    re.compile(rf"(?<!\S)(?:giúp|giùm|dùm|chỉ|bảo|hướng dẫn)\s+({_TERMS})\s+(?:với|vs|cái|làm|cách|về|đi|thủ)(?!\S)"),
    re.compile(rf"(?<!\S)({_TERMS})\s+(?:cảm ơn|cám ơn|xin cảm ơn)(?!\S)"),
]


def self_term(text: str) -> str | None:
    """"bà" for "cho bà hỏi...", "tôi" for "tôi muốn...", None when the message does not say."""
    # punctuation is a pause, not a word: "cho bà hỏi, ...", "chú cảm ơn."
    t = re.sub(r"[\s,.!?;:…]+", " ", normalize(text or "")).strip()
    for rx in _SELF:
        m = rx.search(t)
        if m:
            term = m.group(1)
            return "tôi" if term in ("tui", "mình", "tớ", "con") else term
    return None


def address(term: str | None) -> tuple[str, str]:
    return ADDRESS.get(term or "", NEUTRAL)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def speak(text: str, term: str | None) -> str:
    """Fill {you}/{You}/{me}/{Me} in the assistant's own sentences."""
    you, me = address(term)
    return text.replace("{you}", you).replace("{You}", _cap(you)).replace("{me}", me).replace("{Me}", _cap(me))


def word_count(text: str) -> int:
    return len(syllables(normalize(text or "")))
