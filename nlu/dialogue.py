"""The conversation layer over single-message understanding, kept cheap: small lexical rules over
normalised, diacritic-folded text, no second embedding call.

- `aspect(text)`: which part of a procedure a message asks about (fee, time, documents, where,
  online, who, steps, legal), so "hết bao nhiêu tiền" gets the fee section;
- `resolve(text, u, topic)`: a follow-up on the topic under discussion, or a new topic;
- `topics_in(text, u, understander)`: several procedures in one message;
- `policy(text, u)`: out-of-scope messages that need a specific answer (emergency, health, scam,
  politics, small talk), decided before anything else;
- `self_term(text)`: how a person names themselves ("bà", "cháu"), to answer in kind.
"""
from __future__ import annotations

import re
from dataclasses import replace

from nlu.normalize import fold, normalize, syllables
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
    ("who", _rx(r"ai (?:duoc|lam|di|co the|phai|nop)", r"nguoi nao", r"dieu kien", r"uy quyen", r"lam ho",
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
_PLAIN_AMBIGUOUS = {"can", "tu", "ba", "co", "ket", "hon", "sinh", "ho", "dat", "nha"}
FILLER_PLAIN = {fold(w) for w in FILLER} - _PLAIN_AMBIGUOUS

FOLLOWUP_MARKERS = _rx(r"the", r"vay", r"con", r"the con", r"vay con", r"con nua", r"roi")


def folded(text: str) -> str:
    return fold(normalize(text or ""))


def aspect(text: str) -> str | None:
    t = folded(text)
    for name, rx in ASPECTS:
        if rx.search(t):
            return name
    return None


def residual(text: str) -> list[str]:
    """Folded words of a message left once aspect phrases and filler are taken out."""
    words = syllables(normalize(text or ""))
    folded_words = [fold(w) for w in words]
    t = " ".join(folded_words)
    starts, pos = [], 0
    for w in folded_words:
        starts.append(pos)
        pos += len(w) + 1
    covered = set()
    for _, rx in ASPECTS:
        for m in rx.finditer(t):
            covered.update(i for i, p in enumerate(starts) if m.start() <= p < m.end())
    return [f for i, (w, f) in enumerate(zip(words, folded_words))
            if i not in covered and w not in FILLER and not (f == w and w in FILLER_PLAIN) and not w.isdigit()]


def names_topic(text: str) -> bool:
    """Does the message say what it is about ("làm hộ chiếu ở đâu"), or only ask ("ở đâu")?"""
    return len(residual(text)) >= 2


# ------------------------------------------------------------------------------ context

NEW_TOPIC_CONFIDENCE = 0.5  # below this, a message naming a topic vaguely stays on the current one


def resolve(text: str, u: Understanding, topic: str | None) -> tuple[Understanding, str | None]:
    """(understanding, aspect) of a message in a conversation about `topic` (None: no context)."""
    asp = aspect(text)
    if topic is None:
        if asp is not None and u.kind != "complaint" and not names_topic(text) and u.confidence < 0.75:
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
    return u, asp


# ------------------------------------------------------------------------------ several topics

_SPLIT = re.compile(r"\s*(?:[,;/+]|(?<![a-z])(?:va|voi|voi ca|ca|lan|roi|con|hay|hoac|sau do|them)(?![a-z]))\s*")


def topics_in(text: str, u: Understanding, understander) -> list[str]:
    """Every procedure the message asks about, in the order it names them. Segments between
    conjunctions ("khai sinh và thường trú cho con") are scored lexically (no embedding call);
    several topics count only when at least two segments each name a different one."""
    if u.kind != "faq" or not u.topic:
        return []
    parts = [p for p in _SPLIT.split(folded(text)) if len(residual(p)) >= 2]
    if len(parts) < 2 or not hasattr(understander, "scores") or not hasattr(understander, "decide"):
        return [u.topic]
    found: list[str] = []
    cands = {c for c, _ in u.candidates}
    for p in parts:
        try:
            s = understander.scores(p, ("words", "chars"))
            v = understander.decide(s, "lexical")
            # a close runner-up that is only a variant the segment does not name ("khai sinh"
            # against "đăng ký lại khai sinh") does not make the segment unsure
            general = (v.kind == "faq" and len(v.candidates) > 1 and hasattr(understander, "_general_over_variant")
                       and understander._general_over_variant(s, "faq:" + v.topic, "faq:" + v.candidates[1][0]))
        except Exception:  # noqa: BLE001 - a second opinion only; the main answer stands
            return [u.topic]
        if v.kind == "faq" and v.topic in cands and v.topic not in found and (v.confidence >= 0.6 or general):
            found.append(v.topic)
    if len(found) < 2:
        return [u.topic]
    if u.topic in found:  # the whole message's best guess leads
        found.remove(u.topic)
        found.insert(0, u.topic)
    return found[:3]


# ------------------------------------------------------------------------------ out of scope

POLICIES: list[tuple[str, re.Pattern, re.Pattern | None]] = [
    # (intent, folded pattern, folded exceptions)
    ("oos_emergency", _rx(r"cap cuu", r"ngat xiu", r"bat tinh", r"kho tho", r"dot quy", r"chay mau",
                          r"co giat", r"ngo doc", r"dau nguc", r"tu tu", r"muon chet", r"tai nan",
                          r"chay nha", r"dam chay", r"hoa hoan", r"boc chay", r"dang chay", r"sap chet",
                          r"li bi", r"tim tai", r"sot cao", r"dien giat", r"duoi nuoc"),
     _rx(r"ho tro", r"tro giup", r"tro cap", r"bao hiem", r"chi phi", r"mai tang", r"boi thuong", r"giay")),
    ("oos_scam", _rx(r"vay nong", r"tin dung den", r"vay tien nhanh", r"vay online", r"app vay",
                     r"vay qua app", r"lai ngay", r"bop co", r"doi no", r"no xau", r"vay tien online",
                     r"cho vay lai", r"vay lai cao", r"dong phi de nhan", r"chuyen khoan truoc",
                     r"vay khong can the chap", r"vay tien", r"cho minh vay", r"cho toi vay", r"muon tien",
                     r"cho vay"), None),
    ("oos_health", _rx(r"bi sot", r"sot", r"ho co dom", r"ho khan", r"dau bung", r"dau dau", r"tieu chay",
                       r"non oi", r"phat ban", r"noi man", r"sot xuat huyet", r"tay chan mieng", r"di ung",
                       r"uong thuoc", r"thuoc gi", r"benh gi", r"dau hong",
                       r"chong mat", r"buon non", r"viem hong", r"cam cum", r"so mui", r"ho nhieu", r"mat ngu",
                       r"dau rang", r"dau lung", r"tram cam", r"mang thai bi"),
     _rx(r"bao hiem", r"bhyt", r"giay chung sinh", r"khai sinh", r"sot ho so", r"bo sot", r"thieu sot",
         r"sai sot", r"ho so", r"tro cap", r"che do")),
    ("oos_politics", _rx(r"chinh tri", r"bieu tinh", r"tong bi thu", r"chu tich nuoc", r"thu tuong",
                         r"quoc hoi", r"phan dong", r"nhan quyen", r"dan chu", r"bau cu", r"tong thong",
                         r"ung cu vien", r"dang cong san", r"da dang", r"che do nay", r"chinh quyen te",
                         r"nghi sao ve", r"y kien cua ban ve",
                         r"ung ho ai", r"ai dung ai sai", r"dang phai"), None),
    ("oos_chitchat", _rx(r"thoi tiet", r"troi mua", r"mua khong", r"co mua", r"nhiet do", r"nang nong", r"bong da", r"da bong", r"world cup", r"v league", r"ty so",
                         r"tran dau", r"doi tuyen", r"ai vo dich", r"gia vang", r"gia xang", r"ty gia",
                         r"chung khoan", r"co phieu", r"bitcoin", r"gia usd", r"do la", r"xo so", r"vietlott",
                         r"ke chuyen", r"chuyen cuoi", r"hat di", r"nguoi yeu", r"cach nau", r"nau mon",
                         r"an gi ngon", r"quan nao ngon", r"choi o dau",
                         r"gia heo", r"gia ca phe", r"gia lua", r"gia thit", r"gia rau", r"gia dien thoai",
                         r"xem phim", r"phim gi"),
     _rx(r"le phi", r"thu tuc", r"dang ky", r"giay", r"ho so", r"phuong", r"can cuoc", r"xay dung",
         r"phan anh", r"ngap", r"ung ho", r"so tan", r"khan cap", r"bao lu", r"luu tru")),
]
OOS_INTENTS = {name for name, _, _ in POLICIES}
_EMOJI_ONLY = re.compile(r"^[\W_]+$")


def policy(text: str, u: Understanding | None = None) -> str | None:
    """The out-of-scope intent that decides the answer, or None. Lexical rules come first (an
    emergency must not depend on a retriever's ranking); then the NLU's own oos_* intents."""
    t = folded(text)
    for name, rx, unless in POLICIES:
        if rx.search(t) and not (unless and unless.search(t)):
            if name == "oos_chitchat" and u is not None and u.kind in ("faq", "complaint") \
                    and u.confidence >= 0.75:
                continue  # "giá đất đền bù" is a procedure, not the market
            return name
    if u is not None and u.kind == "smalltalk" and (u.intent or "") in OOS_INTENTS:
        return u.intent
    return None


def apply_policy(text: str, u: Understanding) -> Understanding:
    """The understanding the assistant acts on: out-of-scope intents become kind "fallback"
    (rejected, with the intent saying how), emoji-only messages a small-talk acknowledgement."""
    name = policy(text, u)
    if name:
        return replace(u, kind="fallback", intent=name, topic=None, category=None, ambiguous=False)
    if text and text.strip() and _EMOJI_ONLY.match(text.strip()) and not text.strip().startswith("/"):
        return replace(u, kind="smalltalk", intent="affirm", topic=None, category=None)
    return u


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
_VERBS = ("muốn|cần|hỏi|xin|đang|có|định|không|chưa|mới|vừa|là|ở|đi|làm|bị|đã|chào|cảm ơn|cám ơn|"
          "tên|năm nay|nay|sinh|thấy|nghe|biết|ko|k|cũng|vẫn|phải|được|thì|nhờ|kính")
_SELF = [
    re.compile(rf"^(?:dạ|vâng|thưa|à|ạ|ừ|alo|xin chào|chào)?[\s,!.]*({_TERMS})\s+(?:{_VERBS})(?!\S)"),
    re.compile(rf"(?<!\S)cho\s+({_TERMS})\s+(?:hỏi|xin|biết|được|nhờ|đăng)(?!\S)"),
    re.compile(rf"(?<!\S)(?:giúp|giùm|dùm|chỉ|bảo|hướng dẫn)\s+({_TERMS})\s+(?:với|vs|cái|làm|cách|về|đi|thủ)(?!\S)"),
    re.compile(rf"(?<!\S)({_TERMS})\s+(?:cảm ơn|cám ơn|xin cảm ơn)(?!\S)"),
]


def self_term(text: str) -> str | None:
    """"bà" for "cho bà hỏi...", "tôi" for "tôi muốn...", None when the message does not say."""
    t = re.sub(r"\s+", " ", normalize(text or "")).strip()
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
