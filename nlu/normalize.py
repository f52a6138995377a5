"""Vietnamese text normalisation: how residents type is not how the knowledge base is written.

- NFC, lower case, one tone-mark placement ("hoà" and "hòa" become one form);
- `fold` drops diacritics ("đăng ký" -> "dang ky") for diacritic-insensitive matching;
- abbreviations and teencode ("ko", "dc", "cccd") are expanded to the words they stand for.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền, sắc, ngã, hỏi, nặng
_VOWELS = set("aăâeêioôơuưy")
_WORD = re.compile(r"[0-9a-zà-ỹđ]+", re.IGNORECASE)


def fold(text: str) -> str:
    """Lower case without any diacritics: "Đăng KÝ" -> "dang ky"."""
    t = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(ch for ch in t if unicodedata.category(ch) != "Mn")


def _strip_tone(syllable: str) -> tuple[str, str | None]:
    d = unicodedata.normalize("NFD", syllable)
    tone = next((ch for ch in d if ch in _TONES), None)
    base = unicodedata.normalize("NFC", "".join(ch for ch in d if ch not in _TONES))
    return base, tone


def _tone_position(base: str) -> int | None:
    """Index where the tone mark goes, old-style placement (hòa, thúy)."""
    idx = [i for i, ch in enumerate(base) if ch in _VOWELS]
    if not idx:
        return None
    # "qu" and "gi" + vowel: the u/i belongs to the initial consonant.
    if base.startswith("qu") and len(idx) > 1 and idx[0] == 1:
        idx = idx[1:]
    elif base.startswith("gi") and len(idx) > 1 and idx[0] == 1:
        idx = idx[1:]
    for i in idx:  # vowels with a hat or horn carry the tone (ơ wins in "ươ")
        if base[i] in "ơ":
            return i
    for i in idx:
        if base[i] in "ăâêô":
            return i
    if len(idx) == 1:
        return idx[0]
    ends_with_vowel = idx[-1] == len(base) - 1
    if not ends_with_vowel:
        return idx[-1]  # "toán", "thuộc": closed syllable, tone on the last vowel
    if len(idx) >= 3:
        return idx[1]  # "ngoài", "khuya"
    if base[idx[0]] == "ư":
        return idx[0]
    return idx[0]  # "hòa", "thúy", "mùa"


@lru_cache(maxsize=50000)
def _fix_syllable(syllable: str) -> str:
    base, tone = _strip_tone(syllable)
    if tone is None:
        return syllable
    pos = _tone_position(base)
    if pos is None:
        return syllable
    marked = unicodedata.normalize("NFC", base[pos] + tone)
    return base[:pos] + marked + base[pos + 1:]


def normalize_tones(text: str) -> str:
    return _WORD.sub(lambda m: _fix_syllable(m.group(0)), text)


# Abbreviations and teencode, keyed by their folded form. Only unambiguous ones: "tt" could be
# "tạm trú" or "thông tin", so it is not here.
ABBREVIATIONS: dict[str, str] = {
    "ko": "không", "k": "không", "kg": "không", "khg": "không", "hok": "không",
    "hk": "không", "kh": "không", "khong": "không", "hem": "không",
    "dc": "được", "dk": "đăng ký", "dky": "đăng ký", "dki": "đăng ký", "dangky": "đăng ký",
    "cccd": "căn cước công dân", "cc": "căn cước", "cmnd": "chứng minh nhân dân", "cmt": "chứng minh thư",
    "gks": "giấy khai sinh", "dkkd": "đăng ký kinh doanh", "dkkh": "đăng ký kết hôn", "dkks": "đăng ký khai sinh",
    "gpkd": "giấy phép kinh doanh", "vneid": "vneid", "cqdt": "chính quyền điện tử", "ttpvhcc": "trung tâm phục vụ hành chính công",
    "tthc": "thủ tục hành chính", "xpxd": "xin phép xây dựng", "dvc": "dịch vụ công", "tdp": "tổ dân phố", "sdt": "số điện thoại",
    "dt": "điện thoại", "ntn": "như thế nào", "bn": "bao nhiêu", "bnhieu": "bao nhiêu", "j": "gì",
    "gi": "gì", "z": "vậy", "v": "vậy", "mk": "mình", "mik": "mình", "mh": "mình", "vs": "với",
    "r": "rồi", "bhyt": "bảo hiểm y tế", "bhxh": "bảo hiểm xã hội", "hkd": "hộ kinh doanh",
    "gpxd": "giấy phép xây dựng", "hs": "hồ sơ", "ubnd": "ủy ban nhân dân", "onl": "trực tuyến",
    "online": "trực tuyến", "ol": "trực tuyến", "tphcm": "thành phố hồ chí minh", "sn": "sinh nhật",
    "ng": "người", "nguoi": "người", "lm": "làm", "ls": "làm sao",
    "bik": "biết", "bit": "biết", "wa": "qua", "ntnao": "như thế nào", "nhiu": "nhiêu",
    "sđt": "số điện thoại", "đk": "đăng ký", "đky": "đăng ký", "đc": "được", "đt": "điện thoại",
    "stk": "số tài khoản", "cntt": "công nghệ thông tin", "cnscd": "công nghệ số cộng đồng",
    "gcn": "giấy chứng nhận", "qsdd": "quyền sử dụng đất", "mst": "mã số thuế", "ck": "chuyển khoản",
    "tks": "cảm ơn", "thanks": "cảm ơn", "thank": "cảm ơn", "tk": "cảm ơn", "thx": "cảm ơn",
    "pls": "làm ơn", "plz": "làm ơn", "oke": "được", "ok": "được", "okie": "được",
    # initialisms of the procedures themselves, as residents and forums write them
    "cks": "chữ ký số", "lltp": "lý lịch tư pháp", "gplx": "giấy phép lái xe", "blx": "bằng lái xe",
    "gcnqsdd": "giấy chứng nhận quyền sử dụng đất", "btxh": "bảo trợ xã hội", "bhtn": "bảo hiểm thất nghiệp",
    "tncn": "thu nhập cá nhân", "nvqs": "nghĩa vụ quân sự", "csgt": "cảnh sát giao thông",
    "hcc": "hành chính công", "kd": "kinh doanh", "dvcqg": "dịch vụ công quốc gia", "xkld": "xuất khẩu lao động",
    "tkdd": "tài khoản định danh", "gxn": "giấy xác nhận",
}

_ABBR_FOLDED = {fold(k): v for k, v in ABBREVIATIONS.items()}


def _is_plain(word: str) -> bool:
    """Typed without tone marks or vowel hats (đ allowed): only such words can be teencode.
    "hỏng" (broken) must not become "không"."""
    return fold(word) == word.lower().replace("đ", "d")


def expand_abbreviations(text: str) -> str:
    def sub(m: re.Match) -> str:
        w = m.group(0)
        if len(w) > 8:
            return w
        lw = w.lower()
        if lw in ABBREVIATIONS:
            return ABBREVIATIONS[lw]
        return _ABBR_FOLDED.get(fold(w), w) if _is_plain(w) else w
    return _WORD.sub(sub, text)


def normalize(text: str) -> str:
    """Canonical accented form: NFC, lower, one tone placement, abbreviations expanded,
    single spaces. The lexical and dense retrievers both start from this."""
    t = unicodedata.normalize("NFC", text).lower()
    t = re.sub(r"(\d+)\s*(k)\b", r"\1 nghìn", t)  # "50k" is money, not "không"
    t = expand_abbreviations(t)
    t = normalize_tones(t)
    t = re.sub(r"[^\w\s/.,?-]", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def syllables(text: str) -> list[str]:
    return _WORD.findall(text.lower())
