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

from nlu.normalize import fold, normalize


def _rx(*phrases: str) -> re.Pattern:
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(phrases) + r")(?![a-z0-9])")


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


def report_note(text: str, category: str | None, policy_name: str | None) -> str | None:
    """The advice to give with a report, if any."""
    if category == "dong-vat" and bitten(text):
        return NOTES["bite"]
    return NOTES.get(policy_name or "")
