"""Whether an answer helped: every automatic FAQ answer is logged (topic, channel, time; no text,
no person), offered a button pair "Có ích" / "Chưa đúng ý", and the monthly figures (questions by topic, answered automatically, passed to staff, helpful or
not) are available through the statistics registry and `python -m bot kb stats --month`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional

from sqlalchemy import func
from sqlmodel import Field, Session, SQLModel, select

from nlu.normalize import fold

YES_TEXT = {"co", "co a", "co ich", "co ich a", "co, cam on", "dung roi", "dung", "dung y", "huu ich", "ok"}
NO_TEXT = {"khong", "khong a", "ko", "k", "chua", "chua dung", "chua dung y", "khong dung", "khong co ich",
           "chua dung y a", "sai"}
TYPED_WINDOW = timedelta(minutes=30)  # a typed "có"/"không" counts only right after an answer
BUTTONS = ("Có ích", "Chưa đúng ý")
# Text-only channels (Zalo, console) show no numbers for the pair, which would clash with the
# answer's own numbered options; a resident types one of these phrases (folded, a reply starting
# with one counts). A bare "có" / "không" / "ok" is not a rating: it usually answers something else.
TYPED_YES = ("có ích", "đúng rồi", "đúng ý", "hữu ích", "rất có ích")
TYPED_NO = ("chưa đúng", "chưa đúng ý", "sai rồi", "không đúng", "không có ích", "chưa có ích")
TYPED_HINT = 'Thấy có ích, nhắn "có ích"; chưa đúng ý, nhắn "chưa đúng".'

LABELS = {
    "faq_answered": "Câu hỏi trợ lý tự trả lời",
    "faq_helpful": "Người dân thấy có ích",
    "faq_not_helpful": "Người dân thấy chưa đúng ý",
    "faq_handoffs": "Câu hỏi chuyển cán bộ",
    "faq_unanswered": "Câu hỏi mới chưa trả lời được",
}


class FaqAnswer(SQLModel, table=True):
    __tablename__ = "faq_answer"
    id: Optional[int] = Field(default=None, primary_key=True)
    topic: str = Field(max_length=100, index=True)
    channel: str = Field(max_length=16)
    via: str = Field(default="auto", max_length=8)  # auto: the bot chose | pick: from "Ý bạn là...?"
    at: datetime = Field(index=True)
    helpful: Optional[bool] = None
    feedback_at: Optional[datetime] = None


# ---------------------------------------------------------------- conversation

def log_answer(ctx, topic: str, via: str = "auto") -> list[tuple[str, str]]:
    """Logs an answer just sent and returns the feedback buttons to put under it."""
    row = FaqAnswer(topic=topic, channel=ctx.msg.channel, via=via, at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    data = {k: v for k, v in ctx.conv.data.items() if k != "feedback_done"}
    data.update(feedback_answer=row.id, feedback_at=ctx.now.isoformat())
    if ctx.msg.text and not ctx.msg.button:
        data["last_question"] = ctx.msg.text[:1000]
    ctx.conv.data = data
    # The button names the topic, not the row: the same conversation shows the same buttons on
    # every channel, and a press rates this chat's latest answer only if it is still that topic.
    return [(BUTTONS[0], f"fb:yes:{topic}"), (BUTTONS[1], f"fb:no:{topic}")]


def _speak(ctx, text: str) -> str:
    """{You}/{me} as the person names themselves ("bác", "cháu"); neutral otherwise."""
    from nlu.dialogue import speak
    return speak(text, getattr(ctx.person, "address_term", None))


def _rate(ctx, answer_id: int | None, helpful: bool, topic: str | None = None) -> None:
    row = ctx.session.get(FaqAnswer, int(answer_id)) if answer_id else None
    if row is None or (topic is not None and row.topic != topic):
        ctx.reply(_speak(ctx, "Câu trả lời này không còn để đánh giá. {You} cần gì cứ nhắn {me} nhé."))
        return
    if row.helpful is not None:
        ctx.reply(_speak(ctx, "{You} đã đánh giá câu trả lời này rồi, cảm ơn {you} nhé."))
        return
    row.helpful, row.feedback_at = helpful, ctx.now
    ctx.session.add(row)
    data = {k: v for k, v in ctx.conv.data.items() if k not in ("feedback_answer", "feedback_at")}
    data["feedback_done"] = row.id
    ctx.conv.data = data
    if helpful:
        ctx.reply(_speak(ctx, "Cảm ơn {you}! {You} cần hỏi gì thêm cứ nhắn {me} nhé."))
        return
    question = data.get("last_question")
    if question:
        # a wrong answer is a question the KB does not cover well yet: staff see it with its guess
        from knowledge.unanswered import record
        from nlu.understand import Understanding
        record(ctx.session, question, Understanding("faq", topic=row.topic, candidates=[(row.topic, 0.0)]),
               ctx.now, reason="low_confidence")
    ctx.reply(_speak(ctx, "Cảm ơn {you} đã cho biết. {You} thử hỏi lại bằng cách khác, hoặc gửi câu hỏi cho "
                          "cán bộ phường để được trả lời trực tiếp."),
              buttons=[("Gửi cho cán bộ phường", "handoffask:yes"), ("Thôi, không cần", "handoffask:no")])


def cb_feedback(ctx, payload: str) -> None:
    verdict, _, topic = payload.partition(":")
    if verdict not in ("yes", "no") or not topic:
        ctx.reply(_speak(ctx, "Nút này không còn dùng được. {You} cần gì cứ nhắn {me} nhé."))
        return
    answer_id = ctx.conv.data.get("feedback_answer") or ctx.conv.data.get("feedback_done")
    _rate(ctx, answer_id, verdict == "yes", topic)


def on_text(ctx) -> bool:
    """A typed "có" / "không" right after an answer is its rating."""
    pending = ctx.conv.data.get("feedback_answer")
    if not pending or not ctx.msg.text:
        return False
    t = " ".join(fold(ctx.msg.text.lower()).replace("!", " ").replace(".", " ").split())
    if t not in YES_TEXT and t not in NO_TEXT:
        return False
    try:
        at = datetime.fromisoformat(ctx.conv.data.get("feedback_at") or "")
    except ValueError:
        return False
    if ctx.now - at > TYPED_WINDOW:
        return False
    _rate(ctx, int(pending), t in YES_TEXT)
    return True


def register(r) -> None:
    from bot.stats import register_stats
    from bot import options
    r.callback("fb")(cb_feedback)
    # Typed "có"/"không" (on_text) is not registered: it took the conversation's own short
    # replies ("ok", "không") after an answer. The buttons are never numbered; typed phrases
    # of their own choose them (bot.options matches them against the latest reply's buttons).
    options.typed_only("fb", TYPED_HINT)
    options.synonyms(BUTTONS[0], *TYPED_YES)
    options.synonyms(BUTTONS[1], *TYPED_NO)
    register_stats("kb", provider, LABELS)


# ---------------------------------------------------------------- figures

def provider(session: Session, start: datetime, end: datetime, group_code: str | None = None) -> dict:
    """Ward-wide figures (answers are not tied to a residential group): nothing per group."""
    if group_code is not None:
        return {}
    from bot.models import Handoff
    from knowledge.unanswered import UnansweredQuestion

    def count(model, *where) -> int:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())

    in_range = (FaqAnswer.at >= start, FaqAnswer.at < end)
    return {
        "faq_answered": count(FaqAnswer, *in_range),
        "faq_helpful": count(FaqAnswer, *in_range, FaqAnswer.helpful == True),  # noqa: E712
        "faq_not_helpful": count(FaqAnswer, *in_range, FaqAnswer.helpful == False),  # noqa: E712
        "faq_handoffs": count(Handoff, Handoff.created_at >= start, Handoff.created_at < end),
        "faq_unanswered": count(UnansweredQuestion, UnansweredQuestion.first_seen >= start,
                                UnansweredQuestion.first_seen < end),
    }


@dataclass
class TopicFigures:
    topic: str
    answered: int = 0
    helpful: int = 0
    not_helpful: int = 0


def by_topic(session: Session, start: datetime, end: datetime) -> list[TopicFigures]:
    """Answers per topic in [start, end), most asked first."""
    rows = session.exec(select(FaqAnswer.topic, FaqAnswer.helpful, func.count())
                        .where(FaqAnswer.at >= start, FaqAnswer.at < end)
                        .group_by(FaqAnswer.topic, FaqAnswer.helpful)).all()
    out: dict[str, TopicFigures] = {}
    for topic, helpful, n in rows:
        f = out.setdefault(topic, TopicFigures(topic))
        f.answered += n
        if helpful is True:
            f.helpful += n
        elif helpful is False:
            f.not_helpful += n
    return sorted(out.values(), key=lambda f: (-f.answered, f.topic))


def month_range(month: str) -> tuple[datetime, datetime]:
    """"2026-12" -> the month's start and the next month's start, local (Da Nang) midnight."""
    from bot.clock import TZ
    y, m = (int(x) for x in month.split("-"))
    if not (1 <= m <= 12 and 2000 <= y <= 2100):
        raise ValueError(month)
    start = datetime(y, m, 1, tzinfo=TZ)
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=TZ)
    return start, end


def month_report(session: Session, month: str, titles: dict[str, str] | None = None) -> str:
    """The monthly figures as text (CLI, staff)."""
    start, end = month_range(month)
    figs = provider(session, start, end)
    rated = figs["faq_helpful"] + figs["faq_not_helpful"]
    lines = [f"Trợ lý số, tháng {start.month:02d}/{start.year}:"]
    for k, label in LABELS.items():
        lines.append(f"- {label}: {figs[k]}")
    if rated:
        lines.append(f"- Tỷ lệ có ích (trong {rated} lượt đánh giá): {100 * figs['faq_helpful'] / rated:.0f}%")
    topics = by_topic(session, start, end)
    if topics:
        lines.append("Theo chủ đề (hỏi / có ích / chưa đúng ý):")
        for f in topics:
            name = (titles or {}).get(f.topic, f.topic)
            lines.append(f"  - {name}: {f.answered} / {f.helpful} / {f.not_helpful}")
    return "\n".join(lines)
