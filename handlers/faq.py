"""Procedure questions: answer from the knowledge base, phone-sized first, the details on request;
remember the topic under discussion so elliptical follow-ups ("hết bao nhiêu tiền") resolve
against it; answer out-of-scope messages by policy; pass what staff can answer to them (a
handoff), whose answer then reaches the resident."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlmodel import select

from bot import forms, options
from bot import roles as R
from bot.clock import fmt_local
from bot.context import Context
from bot.ids import parse_id
from bot.core import Button
from bot.models import Handoff
from bot.forms import Choice, Form, Option, Phone, Problem, Text
from bot.router import Router
from knowledge import feedback
from knowledge.unanswered import record as record_unanswered
from nlu import dialogue, report_rules
from nlu.normalize import normalize as normalize_text
from nlu.understand import Understanding

try:  # knowledge base schema v2 (short + sections)
    from knowledge.kb import SECTION_LABELS, render_section, render_short
except ImportError:  # pragma: no cover - until schema v2 lands: derive them from `answer`
    from knowledge.kb import render_answer as _render_answer

    SECTION_LABELS = {"notes": "Chi tiết", "legal_basis": "Căn cứ pháp lý"}

    def _split_answer(entry, profile) -> tuple[str, str]:
        text = _render_answer(entry, profile).split("\n\nCăn cứ:")[0]
        head, rest = "", text
        for para in text.split("\n\n"):
            if head and len(head) + len(para) > 420:
                break
            head = f"{head}\n\n{para}" if head else para
        rest = text[len(head):].strip()
        if len(head) > 450:
            cut = head.rfind(".", 0, 420)
            head, rest = head[:cut + 1], (head[cut + 1:] + "\n\n" + rest).strip()
        return head.strip(), rest

    def render_short(entry, profile) -> str:
        return _split_answer(entry, profile)[0]

    def render_section(entry, key, profile):
        if key == "legal_basis" and entry.legal_basis:
            return "Căn cứ pháp lý:\n" + "\n".join(f"- {x}" for x in entry.legal_basis)
        if key == "notes":
            rest = _split_answer(entry, profile)[1]
            return f"Chi tiết:\n{rest}" if rest else None
        return None

MAX_QUESTION = 1000
TOPIC_TTL = timedelta(minutes=30)  # a follow-up after a longer pause is read on its own
ASPECT_SECTION = {"fee": "fee", "time": "time", "documents": "documents", "where": "where",
                  "online": "online", "who": "who", "steps": "steps", "legal": "legal_basis"}
# "Bao lâu", not "Thời gian": folded "thoi..." reads as "thôi" (no), so a typed "không" pressed it.
BUTTON_LABELS = {"documents": "Giấy tờ", "fee": "Lệ phí", "time": "Bao lâu", "where": "Nơi nộp",
                 "who": "Ai được làm", "steps": "Các bước", "online": "Làm online", "notes": "Lưu ý",
                 "legal_basis": "Căn cứ pháp lý", "sources": "Nguồn"}
MAX_SECTION_BUTTONS = 5
_LACK = "Mục này chưa có thông tin riêng về {what}; dưới đây là phần tóm tắt, cần chắc chắn thì hỏi phường"
LACKING = {"fee": _LACK.format(what="lệ phí"), "time": _LACK.format(what="thời gian giải quyết"),
           "documents": _LACK.format(what="giấy tờ cần mang"), "where": _LACK.format(what="nơi nộp"),
           "online": _LACK.format(what="cách làm trực tuyến"), "who": _LACK.format(what="ai được làm")}
# (no "steps": "thủ tục thế nào" is what the summary itself answers)


@dataclass(frozen=True)
class SectionButton:
    """Typed button data "faqs:<topic>:<section>": one section of one entry."""
    PREFIX = "faqs"
    topic: str
    key: str

    def pack(self) -> str:
        data = f"{self.PREFIX}:{self.topic}:{self.key}"
        if len(data.encode()) > 64:  # Telegram's callback_data limit
            raise ValueError(f"button data too long: {data}")
        return data

    @classmethod
    def parse(cls, payload: str) -> "SectionButton | None":
        topic, _, key = payload.rpartition(":")
        return cls(topic, key) if topic and key else None


# ------------------------------------------------------------------------------ address

def term(ctx: Context) -> str | None:
    return getattr(ctx.person, "address_term", None)


def say(ctx: Context, text: str, buttons=None):
    """Reply in the assistant's own words, addressing the person as they name themselves."""
    return ctx.reply(dialogue.speak(text, term(ctx)), buttons=buttons)


def _remember_address(ctx: Context, text: str) -> None:
    t = dialogue.self_term(text)
    if t is None:
        return
    value = t if t in dialogue.ADDRESS else None  # "tôi": neutral
    if ctx.person.address_term != value:
        ctx.person.address_term = value
        ctx.session.add(ctx.person)


# ------------------------------------------------------------------------------ context

def current_topic(ctx: Context) -> str | None:
    c = ctx.conv
    if not c.topic or c.topic_at is None or c.topic not in ctx.app.kb.by_id:
        return None
    if ctx.now.replace(tzinfo=None) - c.topic_at.replace(tzinfo=None) > TOPIC_TTL:
        return None
    return c.topic


def set_topic(ctx: Context, topic: str | None) -> None:
    ctx.conv.topic, ctx.conv.topic_at = topic, ctx.now if topic else None
    ctx.session.add(ctx.conv)


_WARD_RX: dict[str, re.Pattern] = {}
WARD_CENTRE_TOPIC = "trung-tam.gio-lam-viec"


def without_ward_name(text: str, ward_name: str) -> str | None:
    """The message with this ward's own name taken out ("phường Hải Châu ở đâu" -> "phường ở
    đâu"), None when it does not name the ward. The ward's name is no topic: inside one ward it
    only says "here", yet its words ("châu", "hải") sit near unrelated entries."""
    core = re.sub(r"^\s*(?:phường|xã|thị trấn)\s+", "", normalize_text(ward_name), flags=re.I).strip()
    if len(core) < 2:
        return None
    rx = _WARD_RX.get(core)
    if rx is None:
        rx = _WARD_RX[core] = dialogue._vx(core)
    norm = normalize_text(text)
    out = rx.sub(" ", norm)
    return re.sub(r"\s+", " ", out).strip() if out != norm else None


LONG_MESSAGE = 150  # characters: from here a message may be a story with a question at its end


def refine(ctx: Context, u: Understanding) -> Understanding:
    """Runs on every understood message before its kind's handler: out-of-scope policy first,
    then the conversation's topic (follow-ups), then several topics in one message."""
    text = ctx.msg.text or ""
    _remember_address(ctx, text)
    profile = getattr(ctx.app, "profile", None)
    plain = without_ward_name(text, profile.ward.name) if profile is not None else None
    if plain:
        u = ctx.app.nlu.understand(plain)  # read without the ward's own name
        if (u.kind in ("faq", "fallback") and dialogue.aspect(plain) is not None
                and not dialogue.names_topic(plain) and WARD_CENTRE_TOPIC in ctx.app.kb.by_id):
            # asked where/when of nothing but the ward ("phường Hải Châu ở đâu vậy"): its centre
            u = replace(u, kind="faq", topic=WARD_CENTRE_TOPIC, intent=None, ambiguous=False, confidence=max(u.confidence, 0.8))
    core = dialogue.without_frame(text) if u.kind == "fallback" and not u.intent else None
    if core:
        # "vậy còn khai tử?": the frame words sit nearer small talk than any procedure; the topic
        # it asks about is what is inside
        framed = ctx.app.nlu.understand(core)
        if framed.kind == "faq":
            u = framed
    if u.kind == "fallback" and not u.intent and len(text) >= LONG_MESSAGE:
        # a story with the question at its end: the asking sentences, read on their own
        q = dialogue.question_part(text)
        asked = ctx.app.nlu.understand(q) if q else None
        if asked is not None and asked.kind in ("faq", "complaint"):
            u = asked
    u = replace(u, topics=list(u.topics))  # the understander may cache its result: never edit it
    if (u.kind == "smalltalk" and (u.intent or "") in dialogue.OOS_INTENTS and current_topic(ctx)
            and dialogue.policy(text) is None and dialogue.aspect(text) is not None
            and not dialogue.names_topic(text)):
        # A bare "ở đâu" after an answer is a follow-up, whichever out-of-scope example it happens
        # to sit nearest; only the lexical rules may refuse it.
        u = replace(u, kind="fallback", intent=None)
    name = dialogue.policy(text, u)
    if name and report_rules.report_wins(text, u, name):
        u = replace(u, policy=name)  # a thing in the street is a report; the policy's advice goes with it
    else:
        u = dialogue.apply_policy(text, u, ctx.app.kb.by_id.keys())
    u = report_rules.report_over_question(text, u, ctx.app.nlu) or u
    u = report_rules.report_over_fallback(text, u, ctx.app.nlu) or u
    u = report_rules.settle_category(text, u, ctx.app.nlu) or u
    report_like = u.kind == "complaint" or (u.kind == "fallback" and not u.intent
                                            and report_rules.has_report_evidence(text))
    elsewhere = report_rules.not_ours(text) if report_like else None
    if elsewhere:
        # a repair inside one's own home, a street in another city: not this ward's report, and
        # nothing to hand to ward staff
        u = replace(u, kind="fallback", intent=elsewhere, category=None, policy=None)
    elif u.kind == "complaint" and not report_rules.has_report_evidence(text):
        # no thing, place or problem named: a short reply or an everyday word, not a report
        u = replace(u, kind="fallback", category=None, policy=None)
    if text.strip().rstrip(".)").isdigit() and len(text.strip()) <= 3:
        # a number matching no option on screen: never a report or a guess
        u = replace(u, kind="fallback", intent="number", topic=None, category=None, ambiguous=False)
    elif not (u.kind == "fallback" and u.intent):
        best = ctx.app.kb.by_id.get(u.topic) if u.kind == "faq" and u.topic else None
        u, asp = dialogue.resolve(text, u, current_topic(ctx), best.title if best else None, ctx.app.nlu)
        u.aspect = asp
        if u.kind == "faq":
            u.topics = dialogue.topics_in(text, u, ctx.app.nlu)
            if len(u.topics) > 1:
                u.ambiguous = False  # a close call between two procedures the message both names
    trace = getattr(ctx.app, "trace_understanding", None)
    if trace is not None:
        trace(ctx, u)
    return u


# ------------------------------------------------------------------------------ answers

def section_keys(entry) -> list[str]:
    keys = entry.section_keys() if hasattr(entry, "section_keys") else \
        [k for k in ("notes", "legal_basis") if k in SECTION_LABELS]
    return [k for k in keys if k in SECTION_LABELS]


def _section_buttons(ctx: Context, entry, shown: str | None = None) -> list[Button]:
    keys = [k for k in section_keys(entry) if k != shown and k != "sources"]
    if "legal_basis" in keys and len(keys) > MAX_SECTION_BUTTONS:  # citations last, never crowding
        keys = [k for k in keys if k != "legal_basis"][:MAX_SECTION_BUTTONS - 1] + ["legal_basis"]
    return [Button(BUTTON_LABELS.get(k, SECTION_LABELS[k]), SectionButton(entry.id, k).pack())
            for k in keys[:MAX_SECTION_BUTTONS]]


def _personal(ctx: Context, text: str) -> str:
    """The KB speaks to "bạn"; an elderly resident who wrote "bà" is answered as "bà"."""
    you, _ = dialogue.address(term(ctx))
    if you == "bạn":
        return text
    text = re.sub(r"(?<![\wÀ-ỹ])bạn(?![\wÀ-ỹ])", you, text)
    return re.sub(r"(?<![\wÀ-ỹ])Bạn(?![\wÀ-ỹ])", you[:1].upper() + you[1:], text)


FIRST_MAX = 450  # characters of a first reply: what a phone shows without much scrolling
MORE_LABEL = "Xem đủ phần này"
MORE_NOTE = f"\n… (còn tiếp: chọn \"{MORE_LABEL}\")"


def _cut(text: str, limit: int) -> str:
    """The text up to `limit` characters, cut after a whole line, else a sentence, else a word."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    for sep in ("\n", ". ", "; "):
        at = head.rfind(sep)
        if at > limit // 2:
            return head[:at + 1].rstrip()
    return head.rsplit(" ", 1)[0].rstrip(",;:")


def first_reply_text(ctx: Context, entry) -> str:
    return _personal(ctx, f"{entry.title}\n{render_short(entry, ctx.app.profile)}")


def answer_topic(ctx: Context, topic: str, aspect: str | None = None) -> None:
    entry = ctx.app.kb.by_id.get(topic)
    if entry is None:
        say(ctx, "Xin lỗi, nội dung này không còn trong cơ sở tri thức. {You} hỏi lại giúp {me} nhé.")
        return
    following = current_topic(ctx) == topic  # a follow-up on the entry under discussion
    set_topic(ctx, topic)
    key = ASPECT_SECTION.get(aspect or "")
    body = render_section(entry, key, ctx.app.profile) if key and key in section_keys(entry) else None
    # counted for the monthly figures; rated with fb:yes|no:<topic>, buttons never numbered on
    # text-only channels (a typed "có ích" / "chưa đúng" instead, see knowledge.feedback)
    fb = [Button(text, data) for text, data in feedback.log_answer(ctx, entry.id)]
    if body:
        text = _personal(ctx, f"{entry.title} - {body}")
        more: list[Button] = []
        if not following and len(text) > FIRST_MAX:
            # a first question gets a phone-sized part of the section, the whole of it on request
            text = _cut(text, FIRST_MAX - len(MORE_NOTE)) + MORE_NOTE
            more = [Button(MORE_LABEL, SectionButton(entry.id, key).pack())]
        ctx.reply(text, buttons=more + _section_buttons(ctx, entry, shown=key) + fb)
        return
    if key in LACKING and following and not _summary_covers(entry, key, ctx):
        # asked for a part the entry lacks (and the summary does not speak of): say so, then the summary
        # (only on a follow-up: a first question may have found the wrong entry, the note would add to it)
        phone = ctx.app.profile.centre.phone
        lack = LACKING[key] + (f" ({phone})." if phone else ".")
        ctx.reply(_personal(ctx, f"{entry.title}\n({lack})\n{render_short(entry, ctx.app.profile)}"),
                  buttons=_section_buttons(ctx, entry) + fb)
        return
    ctx.reply(first_reply_text(ctx, entry), buttons=_section_buttons(ctx, entry) + fb)


# Words showing that the summary itself speaks of the part asked for (folded text).
_COVERS = {"fee": r"phi\b|\d[\d.]*\s*(d|dong)\b", "time": r"\d+\s*(ngay|gio)\b|trong ngay|ngay lam viec",
           "documents": r"\bmang\b|giay to|ho so|to khai", "where": r"\btai\b|\bden\b|dia chi|\bnop\b",
           "online": r"truc tuyen|online|dichvucong|vneid", "who": r"$^"}


def _summary_covers(entry, key: str, ctx: Context) -> bool:
    return re.search(_COVERS.get(key, r"$^"), dialogue.folded(render_short(entry, ctx.app.profile))) is not None


SEVERAL_BUDGET = 360  # characters for the briefs of a message about several procedures, in all


def _plain_title(entry, limit: int = 60) -> str:
    """The title without its parenthesised examples, cut at a word: "Vay vốn Ngân hàng Chính sách
    xã hội (hộ nghèo, ...)" -> "Vay vốn Ngân hàng Chính sách xã hội"."""
    title = re.sub(r"\s*\([^)]*\)", "", entry.title).strip() or entry.title
    return title if len(title) <= limit else title[:limit].rsplit(" ", 1)[0].rstrip(",:;") + "…"


def _brief(ctx: Context, entry, limit: int) -> str:
    """The first sentences of the entry's short reply that fit in `limit` characters (what it is,
    where to go); the rest is behind the entry's button."""
    text = re.sub(r"\s*\n\s*(?:[-•]\s*)?", " ", render_short(entry, ctx.app.profile)).strip()
    if len(text) > limit:
        ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", text[:limit + 1])]
        if ends and ends[-1] > limit // 3:
            text = text[:ends[-1]]
        else:
            text = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return f"{_plain_title(entry)}: {text}"


def answer_several(ctx: Context, topics: list[str]) -> None:
    """Several procedures in one message: each briefly, numbered, then a button per procedure
    for its own first reply and sections."""
    entries = [ctx.app.kb.by_id[t] for t in topics if t in ctx.app.kb.by_id]
    set_topic(ctx, entries[0].id)
    limit = SEVERAL_BUDGET // len(entries)
    parts = [dialogue.speak("{You} hỏi {n} việc, {me} trả lời ngắn:", term(ctx)).replace("{n}", str(len(entries)))]
    parts += [f"{i}. " + _personal(ctx, _brief(ctx, e, limit)) for i, e in enumerate(entries, 1)]
    parts.append(dialogue.speak("Chọn từng việc bên dưới để xem đầy đủ.", term(ctx)))
    ctx.reply("\n".join(parts), buttons=[Button(_plain_title(e, 50), f"faq:{e.id}") for e in entries])


def on_faq(ctx: Context) -> None:
    u = ctx.understanding  # type: ignore[attr-defined]
    record_unanswered(ctx.session, ctx.msg.text or "", u, ctx.now)  # only if ambiguous or low confidence
    if u.ambiguous and len(u.candidates) > 1:
        buttons = [(ctx.app.kb.by_id[t].title, f"faq:{t}") for t, _ in u.candidates[:3] if t in ctx.app.kb.by_id]
        buttons.append(("Không phải các ý trên", "faq:none"))
        ctx.conv.data = {**ctx.conv.data, "last_question": ctx.msg.text}
        say(ctx, "Ý {you} là nội dung nào dưới đây?", buttons=buttons)
        return
    topics = getattr(u, "topics", None) or [u.topic]
    if len(topics) > 1:
        answer_several(ctx, topics)
        return
    answer_topic(ctx, u.topic, getattr(u, "aspect", None))


def _trace_answer(ctx: Context, topic: str, aspect: str | None = None) -> None:
    """A button or typed option that answers from an entry is a procedure answer: `ask` reports
    it as one (kind faq, its topic), as it does for a question understood from words."""
    trace = getattr(ctx.app, "trace_understanding", None)
    if trace is not None:
        trace(ctx, Understanding("faq", topic=topic, confidence=1.0, topics=[topic], aspect=aspect))


def cb_faq(ctx: Context, payload: str) -> None:
    if payload == "none":
        offer_handoff(ctx, ctx.conv.data.get("last_question"))
        return
    if payload in ctx.app.kb.by_id:
        _trace_answer(ctx, payload)
    answer_topic(ctx, payload)


def cb_section(ctx: Context, payload: str) -> None:
    b = SectionButton.parse(payload)
    entry = ctx.app.kb.by_id.get(b.topic) if b else None
    if entry is None:
        say(ctx, "Nút này không còn hiệu lực. {You} gõ lại câu hỏi giúp {me} nhé.")
        return
    set_topic(ctx, entry.id)
    _trace_answer(ctx, entry.id, b.key)
    body = render_section(entry, b.key, ctx.app.profile)
    if not body:
        ctx.reply(first_reply_text(ctx, entry), buttons=_section_buttons(ctx, entry))
        return
    ctx.reply(_personal(ctx, f"{entry.title} - {body}"), buttons=_section_buttons(ctx, entry, shown=b.key))


# ------------------------------------------------------------------------------ out of scope

CAPABILITIES = ("{Me} là trợ lý của phường, giúp {you} hỏi thủ tục hành chính (khai sinh, kết hôn, cư trú, "
                "căn cước, VNeID, đất đai, hộ kinh doanh, trợ cấp...) và nhận phản ánh về trật tự, vệ sinh "
                "đô thị.")
# Words of a question ward staff could answer: only then is the handoff offered.
_STAFF_CAN_HELP = dialogue._rx(
    r"thu tuc", r"giay", r"dang ky", r"ho so", r"phuong", r"xac nhan", r"cap", r"lam lai", r"xin",
    r"chung thuc", r"to dan pho", r"ho khau", r"tam tru", r"thuong tru", r"dat", r"nha", r"xay",
    r"tro cap", r"ho tro", r"bao hiem", r"can bo", r"ubnd", r"uy ban", r"cong an", r"nop", r"le phi",
    r"quy dinh", r"chinh sach", r"ho ngheo", r"hoc", r"truong", r"kinh doanh", r"thue", r"phat")


def _policy_reply(ctx: Context, intent: str) -> bool:
    p = ctx.app.profile
    police_txt = p.police.name + (f" ({p.police.address}, ĐT {p.police.phone})" if p.police.phone else "")
    texts = {
        "oos_selfharm": "{Me} rất tiếc khi {you} đang thấy nặng nề như vậy. {You} không phải một mình: hãy nói ngay "
                        "với người thân hoặc người {you} tin cậy. Nếu {you} nghĩ đến việc làm hại bản thân, gọi ngay 115 "
                        "hoặc đến cơ sở y tế gần nhất; dưới 18 tuổi có thể gọi 111 (miễn phí, cả ngày đêm).",
        "oos_emergency": "Nếu đang nguy cấp, {you} gọi ngay 115 (cấp cứu y tế) hoặc 114 (cháy nổ, cứu nạn), "
                         "hoặc đưa người bệnh đến cơ sở y tế gần nhất. Khi có người gây rối, đe dọa: gọi 113.",
        "oos_health": "{Me} không tư vấn được về sức khỏe, bệnh tình. {You} nên đến trạm y tế phường hoặc "
                      "phòng khám, bệnh viện gần nhất để được khám. Nếu nặng (khó thở, sốt cao không hạ, co giật, "
                      "li bì) gọi ngay 115.",
        "oos_scam": "{You} cẩn thận: \"vay nóng\", \"tín dụng đen\", app vay lãi cao, người lạ đòi chuyển tiền "
                    "hay mã OTP thường là lừa đảo hoặc cho vay nặng lãi trái phép. Không chuyển tiền, không gửi "
                    f"giấy tờ, OTP. Báo ngay cho {police_txt}, hoặc gọi 113 nếu bị đe dọa.",
        "oos_politics": "Dạ, {me} chỉ hỗ trợ thủ tục hành chính và phản ánh của phường nên xin phép không bàn "
                        "về chính trị hay nêu ý kiến cá nhân. {You} cần hỏi thủ tục gì cứ nhắn {me} nhé.",
        "oos_chitchat": "Dạ, việc này {me} không có thông tin. " + CAPABILITIES + " {You} cần gì cứ nhắn {me} nhé.",
        "oos_household": "Dạ, việc sửa chữa, đồ dùng trong nhà {me} không hỗ trợ được. " + CAPABILITIES
                         + " Nếu là chuyện ngoài đường, nơi công cộng, {you} tả rõ chỗ nào giúp {me} nhé.",
        "oos_elsewhere": f"Dạ, {{me}} chỉ nhận phản ánh trong {p.ward.name[:1].lower() + p.ward.name[1:]}. "
                         "Việc ở địa phương khác, {you} báo cho chính quyền hoặc đường dây nóng của nơi đó giúp "
                         "{me} nhé.",
    }
    if intent not in texts:
        return False
    say(ctx, texts[intent])
    return True


def offer_handoff(ctx: Context, question: str | None) -> None:
    if question:
        ctx.conv.data = {**ctx.conv.data, "last_question": question}
    say(ctx, "{Me} chưa có câu trả lời chắc chắn cho câu này. " + CAPABILITIES
        + "\n{You} có muốn gửi câu hỏi này cho cán bộ phường không?",
        buttons=[("Gửi cho cán bộ phường", "handoffask:yes"), ("Thôi, không cần", "handoffask:no")])


def on_fallback(ctx: Context) -> None:
    u = getattr(ctx, "understanding", None)
    text = ctx.msg.text or ""
    if u is not None and u.intent and _policy_reply(ctx, u.intent):
        return
    if u is not None and u.intent == "number":
        title = forms.parked_title(ctx)
        if title:  # the figure was meant for the form set aside for a question
            say(ctx, f"{{You}} còn {title} đang làm dở. Gõ \"tiếp tục\" để quay lại rồi nhập tiếp, "
                     "hoặc gõ \"thôi\" nếu không làm nữa.",
                buttons=[forms.Resume(forms.parked(ctx)["flow"]).button("Tiếp tục"),
                         forms.Drop(forms.parked(ctx)["flow"]).button("Thôi")])
            return
        say(ctx, "Số này không có trong các lựa chọn {me} vừa gửi. {You} gõ câu hỏi hoặc chọn lại số "
                 "trong danh sách giúp {me} nhé.")
        return
    if u is not None and getattr(u, "aspect", None) and not dialogue.names_topic(text):
        # "lệ phí bao nhiêu" with nothing under discussion: ask which procedure
        say(ctx, "{You} muốn hỏi về thủ tục nào ạ? Ví dụ: \"lệ phí làm căn cước\", \"khai sinh cần giấy gì\".")
        return
    record_unanswered(ctx.session, text, u, ctx.now, reason="fallback")
    if _STAFF_CAN_HELP.search(dialogue.folded(text)):
        offer_handoff(ctx, text)
        return
    say(ctx, "Dạ, câu này {me} chưa trả lời được. " + CAPABILITIES
        + " Nếu là việc cần cán bộ phường, {you} gõ /hoicanbo kèm câu hỏi nhé.")


def cb_handoff_offer(ctx: Context, payload: str) -> None:
    if payload != "yes":
        say(ctx, "Dạ vâng. {You} cần gì khác cứ nhắn {me} nhé.")
        return
    start_handoff(ctx, ctx.conv.data.get("last_question"))


KEEP_CHOICES = [Option("Đúng, gửi câu này", True, "keep", ("dung", "gui", "gui di", "ok", "co", "giu")),
                Option("Sửa lại", False, "rewrite", ("sua", "sua lai", "viet lai"))]


class HandoffFlow(Form):
    """question (or the one just asked, kept or rewritten) -> contact (optional) -> confirm. The
    question is the answer here, so it is never set aside for the FAQ."""
    name = "handoff"
    title = "câu hỏi gửi cán bộ phường"
    asks_aside = False
    cancelled = "Đã hủy, câu hỏi chưa được gửi."
    fields = [
        Text("question", "{You} nhập câu hỏi muốn gửi cán bộ phường (gõ /huy để thôi):"),
        Choice("keep", choices=KEEP_CHOICES, ask_if=lambda ctx, st: bool(st.get("prefilled"))),
        Phone("contact", "Cán bộ sẽ trả lời {you} ngay trong khung chat này. Nếu muốn được gọi lại, {you} để lại số "
                         "điện thoại; không thì bấm Bỏ qua.",
              alternatives=[Option("Bỏ qua", "", "skip", ("bo qua", "khong", "ko", "khong co", "ko co"))],
              error="Số điện thoại chưa đúng (9 đến 11 chữ số). {You} nhập lại hoặc bấm Bỏ qua nhé."),
    ]

    def take_question(self, ctx: Context) -> str:
        text = (ctx.msg.text or "").strip()
        if not text or ctx.msg.button:
            raise Problem("{You} gõ câu hỏi bằng chữ giúp {me} nhé (gõ /huy để thôi).")
        if len(text) > MAX_QUESTION:
            raise Problem(f"Câu hỏi hơi dài, {{you}} rút gọn dưới {MAX_QUESTION} ký tự giúp {{me}} nhé.")
        return text

    def ask_keep(self, ctx: Context) -> None:
        ctx.reply(f"Câu hỏi của {{you}}: \"{ctx.state['question']}\"\nGửi nguyên câu này nhé?",
                  buttons=self.field_buttons(ctx, self.field("keep")))

    def validate_keep(self, ctx: Context, keep: bool) -> None:
        if not keep:  # "Sửa lại": the question is asked, and not offered again
            ctx.state.pop("question", None)
            ctx.state["prefilled"] = False

    def ask_confirm(self, ctx: Context) -> None:
        ctx.goto("confirm")
        ctx.state.pop("_editing", None)
        contact = ctx.state.get("contact") or "không để lại"
        ctx.reply(f"Xác nhận gửi cán bộ phường:\n• Câu hỏi: {ctx.state['question']}\n• Số điện thoại: {contact}",
                  buttons=self.summary_buttons())

    def summary_buttons(self) -> list[Button]:
        return [Button("Gửi", "handoff:send"), Button("Hủy", "handoff:cancel")]

    def submit(self, ctx: Context) -> None:
        h = Handoff(person_id=ctx.person.id, channel=ctx.msg.channel, chat_id=ctx.msg.chat_id,
                    question=ctx.state["question"], contact=ctx.state.get("contact") or None, created_at=ctx.now)
        ctx.session.add(h)
        ctx.session.flush()
        ctx.audit("handoff_created", "handoff", h.id)
        staff = ctx.app.profile.staff_chat
        if staff:
            ctx.notify(staff.channel, staff.chat_id,
                       f"Câu hỏi mới #{h.id} từ người dân: {h.question}\n"
                       f"Trả lời bằng: /traloi {h.id} nội dung trả lời", dedupe_key=f"handoff-new-{h.id}")
        ctx.end_flow()
        ctx.reply(f"Đã gửi câu hỏi (mã #{h.id}). Cán bộ phường sẽ trả lời {{you}} trong giờ làm việc "
                  f"({ctx.app.profile.centre.hours or 'giờ hành chính'}).")


def start_handoff(ctx: Context, question: str | None) -> None:
    q = (question or "").strip()[:MAX_QUESTION]
    ctx.run_flow(HandoffFlow.name, "start", {"question": q, "prefilled": True} if q else {})


def cmd_queue(ctx: Context, args: str) -> None:
    rows = list(ctx.session.exec(select(Handoff).where(Handoff.status == "open").order_by(Handoff.id).limit(20)))
    if not rows:
        ctx.reply("Không có câu hỏi nào đang chờ trả lời.")
        return
    lines = [f"Câu hỏi đang chờ ({len(rows)}):"]
    for h in rows:
        contact = f", ĐT {h.contact}" if h.contact else ""
        lines.append(f"#{h.id} ({fmt_local(h.created_at)}{contact}): {h.question[:200]}")
    lines.append("Trả lời: /traloi MÃ nội dung")
    ctx.reply("\n".join(lines))


def cmd_answer(ctx: Context, args: str) -> None:
    head, _, text = args.strip().partition(" ")
    hid = parse_id(head.lstrip("#"))
    if hid is None or not text.strip():
        ctx.reply("Cách dùng: /traloi MÃ nội dung trả lời. Ví dụ: /traloi 12 Bạn mang theo căn cước nhé.")
        return
    h = ctx.session.get(Handoff, hid)
    if h is None:
        ctx.reply(f"Không tìm thấy câu hỏi #{hid}.")
        return
    if h.person_id is None:
        ctx.reply(f"Người hỏi #{hid} đã xóa dữ liệu, không gửi được trả lời.")
        return
    h.status, h.answer, h.answered_by, h.answered_at = "answered", text.strip(), ctx.person.id, ctx.now
    ctx.session.add(h)
    ctx.audit("handoff_answered", "handoff", h.id)
    ctx.notify(h.channel, h.chat_id, f"Cán bộ phường trả lời câu hỏi #{h.id} của bạn (\"{h.question[:100]}\"):\n"
               f"{h.answer}", dedupe_key=f"handoff-answer-{h.id}-{ctx.now.timestamp():.0f}")
    ctx.reply(f"Đã gửi trả lời cho người hỏi #{h.id}.")


def erase(ctx: Context) -> None:
    """/xoadulieu: the topic under discussion, the remembered address, pending typed options."""
    set_topic(ctx, None)
    ctx.person.address_term = None
    ctx.session.add(ctx.person)
    options.forget_chat(ctx.session, ctx.msg.channel, ctx.msg.chat_id)


def register(r: Router) -> None:
    feedback.register(r)
    r.on_kind("faq", on_faq)
    r.on_kind("fallback", on_fallback)
    r.on_understood(refine)
    r.on_erase(erase)
    r.callback("faq")(cb_faq)
    r.callback(SectionButton.PREFIX)(cb_section)
    r.callback("handoffask")(cb_handoff_offer)
    r.flow(HandoffFlow())
    r.command("hoicanbo", "gửi câu hỏi cho cán bộ phường")(start_handoff)
    r.command("hangcho", "câu hỏi người dân đang chờ (cán bộ)", roles=(R.STAFF,))(cmd_queue)
    r.command("traloi", "trả lời câu hỏi người dân (cán bộ)", roles=(R.STAFF,))(cmd_answer)
