"""Quick logging: read a session from one message, e.g.
"hôm nay gõ cửa 12 hộ, kích hoạt 5 vneid, mở 3 ví điện tử, 2 cụ già".

Everything is matched on folded text (no diacritics), so "go cua 12 ho" works too. Each number
is tied to the nearest known phrase after it ("12 hộ"), else before it ("vneid: 5"), never across
a comma, "và" or another number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.ids import parse_id
from nlu.normalize import fold

# phrase (folded, space-separated) -> figure; None blocks a shorter phrase ("hỗ trợ" is not "hộ").
_PHRASES: dict[str, str | None] = {}


def _add(figure: str | None, *phrases: str) -> None:
    for p in phrases:
        _PHRASES[fold(p)] = figure


_add("households", "hộ", "hộ gia đình", "hộ dân", "nhà", "gia đình", "căn hộ", "hộ dân cư", "ho gd")
_add("people", "người", "người dân", "lượt người", "bà con", "công dân", "lượt người dân", "nguoi dan",
     "người được hỗ trợ", "ng")
_add("elderly", "cụ", "cụ già", "cụ ông", "cụ bà", "người già", "người cao tuổi", "người lớn tuổi", "ông bà",
     "cao tuổi", "nct", "ông", "bà", "cụ cao tuổi")
_add("vulnerable", "người khuyết tật", "khuyết tật", "yếu thế", "người yếu thế", "hộ nghèo", "người khiếm thị",
     "khiếm thị", "neo đơn", "người neo đơn", "hoàn cảnh khó khăn", "đối tượng yếu thế")
_add("vneid", "vneid", "vn eid", "tài khoản vneid", "tài khoản định danh", "định danh", "định danh điện tử",
     "tk vneid", "tài khoản định danh điện tử", "eid")
_add("dvc", "dịch vụ công", "dvc", "hồ sơ dịch vụ công", "hồ sơ trực tuyến", "hồ sơ online", "hồ sơ",
     "thủ tục trực tuyến", "thủ tục online", "dvctt", "hồ sơ dvc", "dịch vụ công trực tuyến")
_add("payment", "ví", "ví điện tử", "ví momo", "momo", "zalopay", "vnpay", "viettel money", "tài khoản ngân hàng",
     "tk ngân hàng", "tài khoản thanh toán", "thanh toán không dùng tiền mặt", "không dùng tiền mặt",
     "ngân hàng", "mobile money", "ví đt", "tài khoản ví")
_add("signature", "chữ ký số", "chữ ký số từ xa", "ký số", "cks", "chu ky so")
_add("security", "lừa đảo", "chống lừa đảo", "phòng lừa đảo", "bảo vệ dữ liệu", "dữ liệu cá nhân", "an toàn",
     "an toàn thông tin", "an ninh mạng", "cảnh giác", "lượt tuyên truyền", "tuyên truyền", "lượt hướng dẫn an toàn")
_add("apps", "sổ sức khỏe", "sổ sức khỏe điện tử", "sức khỏe điện tử", "y tế", "ứng dụng y tế", "đặt lịch khám",
     "hồ sơ sức khỏe", "vnedu", "giáo dục", "ứng dụng giáo dục", "ứng dụng học tập", "app y tế", "app",
     "ứng dụng", "vssid", "bhxh số")
_add("ecommerce", "sản phẩm", "sản phẩm lên sàn", "thương mại điện tử", "tmđt", "sàn", "lên sàn", "shopee",
     "postmart", "voso", "sản phẩm ocop", "ocop", "gian hàng")
_add(None, "lượt", "hỗ trợ", "hỗ trợ được", "mức", "lần", "ngày", "tháng", "giờ", "phút", "tuổi", "năm", "con",
     "tiếng", "buổi", "đợt", "tháng", "quý", "đồng", "nghìn", "triệu", "k", "km", "m")

_MAX_LEN = max(len(p.split()) for p in _PHRASES)
_NUMBER_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8,
                 "chin": 9}

_PLACE_WORDS = [
    ("door", ["go cua", "tung ho", "tung nha", "den nha", "tan nha", "di ngo", "tung ngo", "go tung"]),
    ("cultural", ["nha sinh hoat", "nha van hoa", "sinh hoat cong dong"]),
    ("centre", ["trung tam", "bo phan mot cua", "mot cua", "hanh chinh cong", "phuc vu hanh chinh"]),
    ("school", ["truong hoc", "truong", "lop hoc"]),
    ("market", ["tai cho", "o cho", "khu cho", "ngoai cho", "cho dem", "cho han"]),
    ("online", ["truc tuyen", "nhom zalo", "online", "qua zalo", "zalo"]),
]
# Separators never crossed when tying a number to a word.
_CLAUSE = re.compile(r"[,;.\n+]|\bva\b|\bvoi\b|\bcung\b|\broi\b|\bsau do\b|\bthem\b")


@dataclass
class Parsed:
    figures: dict[str, int] = field(default_factory=dict)  # households/people/elderly/vulnerable + activities
    day: date | None = None
    place: str | None = None
    rest: str = ""  # what is left of the text once figures are taken out

    @property
    def known(self) -> int:
        return len(self.figures)


def _date(t: str, today: date) -> tuple[date | None, str]:
    if re.search(r"\bhom nay\b|\bsang nay\b|\bchieu nay\b|\btoi nay\b", t):
        return today, t
    if re.search(r"\bhom qua\b|\btoi qua\b|\bchieu qua\b|\bsang qua\b", t):
        return today - timedelta(days=1), t
    m = re.search(r"\b(?:ngay\s*)?(\d{1,2})\s*[/-]\s*(\d{1,2})(?:\s*[/-]\s*(\d{2,4}))?\b", t)
    if m:
        d, mo = int(m.group(1)), int(m.group(2))
        y = int(m.group(3)) if m.group(3) else today.year
        y = y + 2000 if y < 100 else y
        try:
            found = date(y, mo, d)
        except ValueError:
            found = None
        return found, t[:m.start()] + " " + t[m.end():]
    return None, t


def parse_date_text(text: str, today: date) -> date | None | str:
    """"hôm nay", "hôm qua", "15/3", "15/03/2026"; "bad" for an impossible date, None when absent."""
    t = fold(text).strip()
    d, rest = _date(t, today)
    if d is None and rest != t:
        return "bad"
    return d


def _match_at(words: list[str], i: int) -> tuple[str | None, int] | None:
    for n in range(min(_MAX_LEN, len(words) - i), 0, -1):
        p = " ".join(words[i:i + n])
        if p in _PHRASES:
            return _PHRASES[p], n
    return None


def _match_ending_at(words: list[str], j: int) -> tuple[str | None, int] | None:
    for n in range(min(_MAX_LEN, j), 0, -1):
        p = " ".join(words[j - n:j])
        if p in _PHRASES:
            return _PHRASES[p], n
    return None


def _after(words: list[str], i: int, hi: int) -> tuple[str, range] | None:
    """The figure named just after the number at i (up to 4 words, skipping fillers)."""
    j = i + 1
    while j < min(i + 5, hi):
        m = _match_at(words[:hi], j)
        if m and m[0] is not None:
            return m[0], range(j, j + m[1])
        j += m[1] if m else 1
    return None


def _before(words: list[str], i: int, lo: int) -> tuple[str, range] | None:
    """The figure named just before the number at i ("vneid: 5")."""
    j = i
    while j > max(lo, i - 4):
        m = _match_ending_at(words[lo:j], j - lo)
        if m and m[0] is not None:
            return m[0], range(j - m[1], j)
        j -= m[1] if m else 1
    return None


def parse_session(text: str, today: date) -> Parsed:
    out = Parsed()
    t = fold(text)
    t = re.sub(r"\d+\s*(k|nghin|trieu|tr|d|dong|h|gio|phut|tuoi|%)\b", " ", t)  # money, times, ages
    t = re.sub(r"\bmuc\s*(do\s*)?\d\b|\blevel\s*\d\b|\b(q|quy|to|tdp|to dan pho)\s*\d+\b", " ", t)
    out.day, t = _date(t, today)
    padded = f" {t} "
    for place, words in _PLACE_WORDS:
        if any(f" {w}" in padded for w in words):
            out.place = place
            break
    rest_words: list[str] = []
    for clause in _CLAUSE.split(t):
        words = re.findall(r"[a-z0-9]+", clause)
        # "ba cụ già": a number word counts only right before a known figure
        words = [str(_NUMBER_WORDS[w]) if w in _NUMBER_WORDS and (_match_at(words, i + 1) or (None, 0))[0]
                 else w for i, w in enumerate(words)]
        nums = [i for i, w in enumerate(words) if parse_id(w, 9) is not None]
        bounds = [(nums[k - 1] + 1 if k else 0, nums[k + 1] if k + 1 < len(nums) else len(words))
                  for k in range(len(nums))]
        # "vneid 5 ví 3": labels before numbers, when the last number has nothing after it.
        before_style = bool(nums) and _after(words, nums[-1], bounds[-1][1]) is None \
            and _before(words, nums[0], bounds[0][0]) is not None
        used: set[int] = set()
        for k, i in enumerate(nums):
            lo, hi = bounds[k]
            order = (_before, _after) if before_style else (_after, _before)
            m = None
            for fn in order:
                m = fn(words, i, lo if fn is _before else hi)
                if m:
                    break
            if m:
                fig, span = m
                used.update(span)
                used.add(i)
                out.figures[fig] = out.figures.get(fig, 0) + int(words[i])
        rest_words += [w for i, w in enumerate(words) if i not in used]
    out.rest = " ".join(rest_words)
    return out


def parse_int(text: str) -> int | None | str:
    """A non-negative whole number, or an error keyword: "negative", "decimal", "text", "big"."""
    t = (text or "").strip().replace(" ", "")
    if re.fullmatch(r"-\d+", t):
        return "negative"
    if re.fullmatch(r"\d+[.,]\d+", t):
        return "big" if re.fullmatch(r"\d{1,3}([.,]\d{3})+", t) else "decimal"
    f = fold(t)
    if f in ("khong", "0", "ko", "k", "khongco", "chua"):
        return 0
    if re.fullmatch(r"[0-9]{10,}", t):
        return "big"
    n = parse_id(t, 9)
    return "text" if n is None else n
