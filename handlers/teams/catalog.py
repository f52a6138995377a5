"""The fixed lists of the spec (places, activities, figures) and quarter arithmetic."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bot.clock import TZ

WARD = "_ward"  # TeamSubmission.group_code of the ward's own report

# Where and how (spec order). Ids are stored; labels are what members read.
PLACES: dict[str, str] = {
    "door": "Đến từng hộ (gõ cửa)",
    "cultural": "Nhà sinh hoạt cộng đồng",
    "centre": "Trung tâm Phục vụ HCC",
    "school": "Trường học",
    "market": "Chợ",
    "online": "Trực tuyến (nhóm Zalo)",
    "other": "Khác",
}

# Activity id -> (column, label). Spec order.
ACTIVITIES: dict[str, tuple[str, str]] = {
    "vneid": ("act_vneid", "Tài khoản VNeID đăng ký/kích hoạt mức 2"),
    "dvc": ("act_dvc", "Hồ sơ dịch vụ công trực tuyến"),
    "payment": ("act_payment", "Tài khoản thanh toán, ví điện tử mở mới"),
    "signature": ("act_signature", "Chữ ký số từ xa đăng ký"),
    "security": ("act_security", "Lượt hướng dẫn bảo vệ dữ liệu, phòng lừa đảo"),
    "apps": ("act_apps", "Ứng dụng y tế, giáo dục cài đặt"),
    "ecommerce": ("act_ecommerce", "Sản phẩm địa phương lên sàn TMĐT"),
}
SHORT = {
    "vneid": "VNeID", "dvc": "DVC trực tuyến", "payment": "TT không tiền mặt/ví", "signature": "Chữ ký số",
    "security": "An toàn dữ liệu, lừa đảo", "apps": "Ứng dụng y tế, giáo dục", "ecommerce": "Sản phẩm lên sàn",
}

# Head-count figures of a session.
COUNTS: dict[str, str] = {
    "households": "Số hộ đã đến",
    "people": "Số người được hỗ trợ",
    "elderly": "Trong đó người cao tuổi (60+)",
    "vulnerable": "Người yếu thế khác",
}
FIGURES = ["sessions", *COUNTS, *ACTIVITIES]
FIGURE_LABELS = {"sessions": "Số buổi hỗ trợ", **COUNTS, **{k: v[1] for k, v in ACTIVITIES.items()}}

MAX_NUMBER = 10000  # anything bigger is a typo, not a day's work
PLAUSIBLE = {"households": 200, "people": 300, "elderly": 200, "vulnerable": 200}
PLAUSIBLE_ACTIVITY = 150
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def quarter_of(d: date) -> tuple[int, int]:
    return d.year, (d.month - 1) // 3 + 1


def quarter_days(year: int, q: int) -> tuple[date, date]:
    """First day, and the first day after the quarter."""
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, end


def local_midnight(d: date) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=TZ)


def local_at(d: date, hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.combine(d, time(h, m), tzinfo=TZ)


def today(now: datetime) -> date:
    return now.astimezone(TZ).date()


def quarter_label(year: int, q: int) -> str:
    return f"quý {ROMAN[q]}/{year}"


def parse_quarter(text: str, now: datetime) -> tuple[int, int] | None:
    """"4/2026", "Q4/2026", "quý 4 2026", "q4"; empty means the current quarter; None when unreadable."""
    import re
    from nlu.normalize import fold
    t = fold(text or "").strip()
    if not t:
        return quarter_of(today(now))
    m = re.fullmatch(r"(?:quy|q)?\s*([1-4])(?:\s*[/ -]\s*(\d{4}))?", t)
    if not m:
        return None
    year = int(m.group(2)) if m.group(2) else today(now).year
    if not 2000 <= year <= 2100:
        return None
    return year, int(m.group(1))


def deadline_of(year: int, q: int, day: int) -> date:
    """"Before the 20th": the report is due before 00:00 local on this date."""
    return date(year, 3 * q, day)


def days_between(a: date, b: date) -> int:
    return (b - a) // timedelta(days=1)


def cap(text: str) -> str:
    """Upper-case the first letter only ("quý IV" -> "Quý IV"; str.capitalize would give "Quý iv")."""
    return text[:1].upper() + text[1:]
