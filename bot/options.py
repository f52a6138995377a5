"""Typed answers to the bot's buttons, on every channel.

Channels without inline keyboards (Zalo, console) show buttons as a numbered list, and people type
anyway on Telegram: "1", "tham gia", "5 sao", "không đi được". A reply's buttons are kept on the
conversation (conv.last_buttons); the buttons of messages the bot sends on its own (class notices,
rating requests, a staff question) are kept here, per recipient chat with an expiry, written by
`enqueue` in the sender's transaction. Before a message is understood, the engine matches its text
against both, newest first (`map_text`).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from sqlalchemy import JSON, Column, Index, delete
from sqlmodel import Field, Session, SQLModel, select

from bot.ids import parse_int
from nlu.normalize import fold

if TYPE_CHECKING:
    from bot.context import Context

TTL = timedelta(days=7)  # a resolved report auto-closes after 7 days: its rating buttons live as long
KEEP_PER_CHAT = 5
MAX_TYPED_WORDS = 5  # longer messages are sentences, never a typed option
# Button prefixes whose callback takes the free text typed after the message (the reports
# feature's "Trả lời cán bộ": the typed answer reaches the staff member who asked).
_FREE_TEXT: set[str] = set()
# A group holds others too: `for_whom(ctx, data)` says whether this sender is the one a notice's
# `prefix:` button asked; another member's typed answer or text is left alone, and the notice stays.
_FOR_WHOM: dict[str, Callable[["Context", str], bool]] = {}
# Button labels with the phrases people type for them (folded). A reply starting with one of them
# means that button even as a sentence ("vẫn còn rác ở đầu kiệt"), and the words are kept for the
# callback. Such labels are not chosen by a bare "không" (polarity), only by their own words.
_SYNONYMS: dict[str, tuple[str, ...]] = {}
MAX_SYNONYM_WORDS = 15
# Button prefixes never numbered on text-only channels, with the line that tells what to type
# instead: the "Có ích" / "Chưa đúng ý" pair under an answer must not shift or take the numbers of
# the answer's own options, nor a bare "có" / "không" meant for something else.
_TYPED_ONLY: dict[str, str] = {}


def typed_only(prefix: str, hint: str) -> None:
    """Buttons `prefix:...` are shown as buttons where the channel has them; on text-only channels
    they get no number, only `hint` ("nhắn 'có ích'"), and are chosen by their label or synonyms."""
    _TYPED_ONLY[prefix] = hint


def typed_only_hint(data: str) -> str | None:
    """The hint of a typed-only button, None for an ordinary one."""
    return _TYPED_ONLY.get(data.partition(":")[0])


class PendingOption(SQLModel, table=True):
    """The buttons of one message the bot sent on its own, until answered or expired."""
    __tablename__ = "pending_option"
    __table_args__ = (Index("ix_pending_option_chat", "channel", "chat_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    buttons: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    free_text: Optional[str] = Field(default=None, max_length=128)  # button data free text goes to
    created_at: datetime
    expires_at: datetime = Field(index=True)


def accept_free_text(prefix: str) -> None:
    """Free text typed after a message carrying a `prefix:` button goes to that callback."""
    _FREE_TEXT.add(prefix)


def addressed(prefix: str, for_whom: Callable[["Context", str], bool]) -> None:
    """In a group, typed answers to a notice's `prefix:` buttons count only from the member
    `for_whom(ctx, data)` accepts (the resident whose report it is)."""
    _FOR_WHOM[prefix] = for_whom


def synonyms(label: str, *phrases: str) -> None:
    """Typed phrases meaning the button labelled `label`, wherever it is offered."""
    _SYNONYMS[_clean(label)] = tuple(_clean(p) for p in phrases)


def match_synonym(text: str, buttons: list[dict]) -> str | None:
    """The data of the button whose registered phrase `text` starts with (unique), or None."""
    t = _clean(text)
    if not t or len(t.split()) > MAX_SYNONYM_WORDS:
        return None
    hits = [b for b in buttons if any(_starts(t, (p,)) for p in _SYNONYMS.get(_clean(b["text"]), ()))]
    return hits[0]["data"] if len(hits) == 1 else None


def remember(session: Session, channel: str, chat_id: str, buttons: Iterable[dict], now: datetime,
             until: datetime | None = None) -> None:
    """Keep `buttons` answerable by typing in this chat for TTL (or until `until`, if sooner)."""
    buttons = [{"text": b["text"], "data": b["data"]} for b in buttons]
    if not buttons:
        return
    free = next((b["data"] for b in buttons if b["data"].partition(":")[0] in _FREE_TEXT), None)
    expires = now + TTL
    if until is not None:
        until = until if until.tzinfo else until.replace(tzinfo=now.tzinfo)  # the database may hand back naive UTC
        expires = min(expires, until)
    session.add(PendingOption(channel=channel, chat_id=chat_id, buttons=buttons, free_text=free,
                              created_at=now, expires_at=expires))


def remember_many(session: Session, rows: Iterable[tuple[str, str, list[dict]]], now: datetime) -> None:
    for channel, chat_id, buttons in rows:
        remember(session, channel, chat_id, buttons, now)


def forget_chat(session: Session, channel: str, chat_id: str) -> None:
    session.exec(delete(PendingOption).where(PendingOption.channel == channel, PendingOption.chat_id == chat_id))


# ---------------------------------------------------------------- loose matching

_NUMBER_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5}
_NO = ("khong", "ko", "k", "kg", "hong", "hok", "chua", "huy", "thoi", "tu choi", "ban", "no", "khoi")
_YES = ("co", "tham gia", "dong y", "ok", "oke", "okay", "dc", "duoc", "vang", "da", "u", "uh", "yes",
        "di", "dung", "chac chan", "xac nhan")
_SKIP = ("bo qua", "skip", "khong can", "ko can", "thoi khoi", "de sau")
_STRIP = " .,!?)(:;\"'-"


def _clean(text: str) -> str:
    t = fold(text).strip(_STRIP)
    return re.sub(r"\s+", " ", re.sub(r"[.,!?;:\"'()]+", " ", t)).strip()


def _starts(t: str, words: tuple[str, ...]) -> bool:
    return any(t == w or t.startswith(w + " ") for w in words)


def polarity(t: str) -> str | None:
    """"yes", "no", "skip" for a short cleaned answer ("đúng rồi", "không rõ", "bỏ qua"), or None."""
    return _polarity(t)


def _polarity(t: str) -> str | None:
    """"yes", "no", "skip" for a short answer or a button label, None when it is neither."""
    if _starts(t, _SKIP):
        return "skip"
    if _starts(t, _NO):
        return "no"
    if _starts(t, _YES):
        return "yes"
    return None


# What residents type instead of stars (the request reads "1 sao: chưa hài lòng, 5 sao: rất hài
# lòng"). The whole answer must be one of these, politeness aside: "tốt nghiệp rồi" is no rating.
_RATING_WORDS = {
    **dict.fromkeys(("te", "te qua", "qua te", "rat te", "te lam", "kem", "kem qua", "rat kem", "qua kem",
                     "khong hai long", "chua hai long", "that vong", "khong tot", "khong on", "chua on"), 1),
    **dict.fromkeys(("binh thuong", "tam duoc", "tam on", "cung duoc", "tam tam"), 3),
    **dict.fromkeys(("tot", "on", "on roi", "tot roi", "hai long", "duoc roi"), 4),
    **dict.fromkeys(("rat tot", "tot lam", "tot qua", "qua tot", "rat hai long", "hai long lam", "tuyet voi",
                     "xuat sac", "rat on"), 5),
}
_POLITE_TAIL = ("a", "nhe", "nha", "nhen", "em", "chau", "ban", "ad", "lam", "thoi")
# "cho 4 sao", "4 sao nhé", "1 sao thôi": the stars said inside a short answer
_STARS_IN = re.compile(r"(?<!\S)(\d|mot|hai|ba|bon|tu|nam)\s*(?:sao|\*|★)(?!\S)")


def _rating_words(t: str) -> int | None:
    words = t.split()
    while words:
        n = _RATING_WORDS.get(" ".join(words))
        if n is not None or len(words) == 1 or words[-1] not in _POLITE_TAIL:
            break
        words.pop()
    if n is None:
        said = {m.group(1) for m in _STARS_IN.finditer(t)}
        if len(said) == 1:
            x = said.pop()
            n = int(x) if x.isdigit() else _NUMBER_WORDS[x]
    return n if n is not None and 1 <= n <= 5 else None


def _stars(t: str) -> int | None:
    if t and set(t) <= {"★", "⭐", "*", " "}:
        return len(t.replace(" ", ""))
    m = re.fullmatch(r"(\d|mot|hai|ba|bon|tu|nam)\s*(sao|\*|★|diem)", t)
    if not m:
        return None
    return int(m.group(1)) if m.group(1).isdigit() else _NUMBER_WORDS[m.group(1)]


def match(text: str, buttons: list[dict], strict: bool = False, notice: bool = False) -> str | None:
    """The data of the button `text` means, or None. Order: number, label, stars, a label
    containing every typed word, yes/no/skip meaning; a choice must be unique to count.
    strict (group chats, where people talk among themselves): number or exact label only.
    notice (buttons of a message the bot sent on its own, maybe days ago): loose words count only
    when they include the label's first word, its verb ("mở lại", not "báo cáo" for "Mở lại báo
    cáo quý"): the person may be talking about something else by now."""
    t = _clean(text)
    buttons = [b for b in buttons if typed_only_hint(b["data"]) is None]  # only by match_synonym
    if not t or not buttons or len(t.split()) > MAX_TYPED_WORDS:
        return None
    if t.isdigit():  # "²" is a digit to Python, not an option number
        n = parse_int(t, 1, len(buttons))
        return buttons[n - 1]["data"] if n is not None else None
    labels = [_clean(b["text"]) for b in buttons]
    for b, lab in zip(buttons, labels):
        if lab == t:
            return b["data"]
    if strict:
        return None
    n = _stars(fold(text).strip(_STRIP))
    if n is None and any("★" in b["text"] for b in buttons):
        n = _rating_words(t)  # "tệ quá", "rất hài lòng ạ", "cho 4 sao" to a rating request
    if n is not None:
        hits = [b for b, lab in zip(buttons, labels)
                if b["text"].count("★") == n or lab in (f"{n} sao", f"{n}*")]
        return hits[0]["data"] if len(hits) == 1 else None
    words = t.split()
    pol = _polarity(t)
    label_pol = [_polarity(lab) for lab in labels]
    if notice:
        # a message the bot sent on its own, maybe days ago: "có mất tiền không" is a question and
        # "Cô Lan" a name, not a "có"; only a bare yes/no ("có ạ", "không đi được") or a label said
        # in a short sentence ("cho tôi tham gia với") answers it
        if _asks(text, words):
            return None
        if pol is not None and not all(w in _ANSWER_FILLER for w in _after_polarity(t, pol)):
            pol = None
            if not _contained_label(t, labels, label_pol):
                return None
        said = _contained_label(t, labels, label_pol)
        if said is not None:
            return buttons[said]["data"]
    if pol is None or pol in label_pol:
        # a label with phrases of its own is not chosen by one of its words ("xong" is not
        # "chưa xử lý xong"): only by those phrases (match_synonym) or the whole label
        hits = [b for b, lab in zip(buttons, labels)
                if lab not in _SYNONYMS and all(w in lab.split() for w in words)
                and (not notice or set(lab.split()[:1]) <= set(words))]
        # "tham gia" is inside "không tham gia" too: a negated label cannot be meant by a plain answer
        if pol != "no":
            hits = [b for b, lp in zip(buttons, label_pol) if b in hits and lp != "no"] or hits
        if len(hits) == 1:
            return hits[0]["data"]
    if pol is not None:
        hits = [b for b, lp, lab in zip(buttons, label_pol, labels) if lp == pol and lab not in _SYNONYMS]
        if len(hits) == 1:
            return hits[0]["data"]
    return None


# Words that may follow a bare yes/no to a notice: "có ạ", "có, tôi đi", "không đi được nhé".
_ANSWER_FILLER = frozenset("a ah nhe nha nhen roi luon di chu oi toi minh em anh chi co bac chau ong ba se tham gia "
                           "voi hoc dang ky duoc dc nua ban kip ranh the ok oke vang da u nhe".split())
_QUESTION_WORDS = ("bao nhieu", "bao lau", "o dau", "the nao", "nhu nao", "khi nao", "may gio", "lam sao", "tai sao",
                   "vi sao", "duoc khong", "co phai", "phai khong")
_NEGATION = ("khong", "ko", "k", "chua", "hong", "hok", "kg")


def _asks(text: str, words: list[str]) -> bool:
    t = " ".join(words)
    return "?" in text or any(f" {q} " in f" {t} " for q in _QUESTION_WORDS) or \
        (len(words) >= 3 and words[-1] in ("khong", "ko", "k", "chua", "gi", "nao", "dau", "sao", "ha", "nhi"))


def _after_polarity(t: str, pol: str) -> list[str]:
    """The words after the leading yes/no/skip phrase."""
    lead = next(w for w in sorted({"yes": _YES, "no": _NO, "skip": _SKIP}[pol], key=len, reverse=True)
                if _starts(t, (w,)))
    return t[len(lead):].split()


def _contained_label(t: str, labels: list[str], label_pol: list) -> int | None:
    """The index of the one label said as a phrase inside a short message ("cho tôi tham gia với"),
    the longest when one holds another ("không tham gia"); None when negated before it ("chưa tham
    gia được") or when none or several are said."""
    padded = f" {t} "
    found = [i for i, lab in enumerate(labels) if lab and f" {lab} " in padded]
    if not found:
        return None
    longest = max(len(labels[i]) for i in found)
    found = [i for i in found if len(labels[i]) == longest]
    if len(found) != 1:
        return None
    i = found[0]
    before = padded[:padded.index(f" {labels[i]} ")].split()
    if label_pol[i] != "no" and any(w in _NEGATION for w in before):
        return None
    return i


# ---------------------------------------------------------------- before understanding

def map_text(ctx: "Context") -> None:
    """Turn a typed answer into the button it means (msg.button set, msg.text cleared), or route
    free text to a message that asked for it (msg.button set, text kept)."""
    msg, conv, now = ctx.msg, ctx.conv, ctx.now
    if msg.button or not msg.text or msg.command:
        return
    s = ctx.session
    rows = []
    for i, r in enumerate(s.exec(select(PendingOption).where(
            PendingOption.channel == msg.channel, PendingOption.chat_id == msg.chat_id)
            .order_by(PendingOption.created_at.desc(), PendingOption.id.desc()))):
        if _naive(r.expires_at) <= _naive(now) or i >= KEEP_PER_CHAT:
            s.delete(r)  # expired or crowded out: tidied when the chat next writes
        elif _naive(r.created_at) <= _naive(now):  # (remembered from its send time: one held for the
            rows.append(r)                          # quiet hours is not answered before it is sent)
    direct_at = conv.updated_at
    if conv.flow and direct_at is not None:
        # in a form, only a notice newer than the form's last question may take the answer
        rows = [r for r in rows if _naive(r.created_at) > _naive(direct_at)]
    sources: list[tuple[datetime, list[dict], PendingOption | None]] = [
        (_naive(r.created_at), r.buttons, r) for r in rows]
    flow = ctx.app.router.flows.get(conv.flow) if conv.flow else None
    if conv.last_buttons and not getattr(flow, "reads_typed_options", False):
        # (a form declared as data matches typed answers to its own options, with synonyms)
        sources.append((_naive(direct_at or now), conv.last_buttons, None))
    sources.sort(key=lambda x: x[0], reverse=True)  # stable: a notice and a reply at once, notice first
    for _, buttons, row in sources:
        # typed-only buttons ("có ích" / "chưa đúng") first: their phrases are explicit, while the
        # loose match would read "chưa đúng" as a plain "no" for some other option
        typed = [b for b in buttons if typed_only_hint(b["data"]) is not None]
        data = match_synonym(msg.text, typed) if typed and not msg.is_group else None
        if data is None:
            data = match(msg.text, buttons, strict=msg.is_group, notice=row is not None)
        # a sentence in a form is the form's answer, never a phrase for an older notice
        keep = data is None and not msg.is_group and not conv.flow and \
            (data := match_synonym(msg.text, buttons)) is not None
        if data is not None and row is not None and msg.is_group and not _asked(ctx, data):
            continue  # another member's "1": the notice stays for the one it asked
        if data is not None:
            msg.button = data
            if not keep:
                msg.text = None
            if row is not None:
                s.delete(row)  # answered: "5" later is a new message, not this rating again
            return
    if conv.flow:
        return
    newest = sources[0] if sources else None
    if newest is not None and newest[2] is not None and newest[2].free_text:
        if msg.is_group and not _asked(ctx, newest[2].free_text):
            return  # another member talking: not the answer, and the route stays for the one asked
        msg.button = newest[2].free_text
        s.delete(newest[2])


def _asked(ctx: "Context", data: str) -> bool:
    """Whether a notice's button `data` is this sender's to answer (addressed)."""
    for_whom = _FOR_WHOM.get(data.partition(":")[0])
    return for_whom is None or for_whom(ctx, data)


def _naive(dt: datetime) -> datetime:  # the database may hand back naive UTC
    return dt.replace(tzinfo=None)
