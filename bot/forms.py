"""Forms declared as data, and typed button data.

A `Form` lists its fields in the order they are asked; each field type knows how to ask, how to
read a pressed button or a typed answer (loosely: accents, case, synonyms, numbers), and what to
say when the answer does not fit. What every form needs lives here, once:

- a question asked mid-form ("làm khai sinh cần gì?") is answered by the FAQ, and the form offers
  to continue; a command also only sets the form aside. Typing "tiếp tục" brings it back, within
  RESUME_WITHIN;
- a summary with confirm, edit and cancel;
- `ask_if` predicates (a field asked only when it applies), `validate_<field>(ctx, value)` hooks
  returning an error message, `ask_<field>` / `take_<field>` methods as the escape hatch for a step
  that does not fit a field type, and `before(ctx)` for input taken at any step (photos).

State: the field values are the conversation's `data` (ctx.state), the step is the field's key.
The engine marks `data` modified after every message, so writing ctx.state is enough.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from bot import options as opt
from bot.core import Button
from bot.ids import MAX_ID_DIGITS, digits_of, parse_id, parse_int
from bot.router import Flow
from nlu import dialogue
from nlu.normalize import fold

if TYPE_CHECKING:
    from bot.context import Context
    from bot.router import Router

RESUME_WITHIN = timedelta(hours=12)  # a form set aside for a question can be taken up again this long
BUTTON_DATA_LIMIT = 64  # Telegram's callback_data limit, the tightest of our channels
PARKED = "_parked"  # conv.data key holding a form set aside


# ------------------------------------------------------------------------ typed button data
@dataclass(frozen=True)
class ButtonData:
    """Button data as a small class: `Resume("phananh").pack()` -> "fres:phananh".
    Subclasses name a short wire prefix (`class Resume(ButtonData, prefix="fres")`); fields are
    str or int, joined by ":" (only the last str field may contain ":"). `kinds` lists every kind
    so a test checks the 64-byte limit over all of them with their widest values."""
    prefix: ClassVar[str] = ""
    kinds: ClassVar[dict[str, type["ButtonData"]]] = {}

    def __init_subclass__(cls, prefix: str = "", **kw):
        super().__init_subclass__(**kw)
        if prefix:
            other = ButtonData.kinds.get(prefix)
            if other is not None and other.__qualname__ != cls.__qualname__:
                raise ValueError(f"button prefix {prefix!r} used by {other.__qualname__} already")
            cls.prefix = prefix
            ButtonData.kinds[prefix] = cls

    def pack(self) -> str:
        return ":".join([self.prefix, *(str(getattr(self, f.name)) for f in fields(self))])

    def button(self, label: str) -> Button:
        return Button(label, self.pack())

    @classmethod
    def unpack(cls, data: str | None):
        """The typed button from full data ("fres:phananh"), or None when it is not one of these."""
        if not data or not data.startswith(cls.prefix + ":"):
            return None
        return cls.parse(data[len(cls.prefix) + 1:])

    @classmethod
    def parse(cls, payload: str):
        """From the payload after the prefix (what a router callback gets); None when malformed."""
        fs = fields(cls)
        parts = payload.split(":", len(fs) - 1) if fs else []
        if len(parts) != len(fs):
            return None
        values = []
        for f, raw in zip(fs, parts):
            if f.type in (int, "int"):
                n = parse_id(raw)
                if n is None:
                    return None
                values.append(n)
            else:
                if len(raw) > f.metadata.get("max", BUTTON_DATA_LIMIT):
                    return None
                values.append(raw)
        return cls(*values)

    @classmethod
    def widest(cls) -> "ButtonData":
        """An instance with the longest values its fields allow (ids as long as parse_id takes
        them, strings up to their `max` metadata)."""
        vals = [10 ** MAX_ID_DIGITS - 1 if f.type in (int, "int") else "x" * f.metadata.get("max", 16)
                for f in fields(cls)]
        return cls(*vals)


def short(max_len: int):
    """A str field of a ButtonData, at most max_len characters on the wire."""
    return field(metadata={"max": max_len})


@dataclass(frozen=True)
class Resume(ButtonData, prefix="fres"):
    """"Tiếp tục" on a form set aside for a question."""
    form: str = short(24)


@dataclass(frozen=True)
class Drop(ButtonData, prefix="fdrop"):
    """"Thôi" on a form set aside: forget it."""
    form: str = short(24)


# ------------------------------------------------------------------------ field types
@dataclass
class Option:
    label: str
    value: Any
    wire: str  # the button data after "<form>:", e.g. "cat:rac-thai"
    words: tuple[str, ...] = ()  # typed synonyms, compared without accents or case


class Problem(Exception):
    """An answer that does not fit the field; the message says what is wrong."""

    def __init__(self, message: str, buttons: list[Button] | None = None):
        super().__init__(message)
        self.message, self.buttons = message, buttons


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[.,!?;:\"'()]+", " ", fold(text or ""))).strip()


def match_option(text: str, options: list[Option]) -> Option | None:
    """A typed answer against options: synonyms and exact labels first, then the shared loose
    matcher (numbers "2", every typed word in one label, yes/no/skip meaning)."""
    t = _clean(text)
    if not t:
        return None
    for o in options:
        if t == _clean(o.label) or t in o.words:
            return o
    for o in options:  # "ko co anh nha", "gui luon di": a synonym leading the answer
        if any(t.startswith(w + " ") for w in o.words if len(w) > 2):
            return o
    if len(t.split()) > 3:  # "thời tiết hôm nay": a sentence, not "thôi"
        return None
    data = opt.match(text, [{"text": o.label, "data": o.wire} for o in options])
    return next((o for o in options if o.wire == data), None)


@dataclass
class Field:
    key: str
    ask: str = ""  # the question, Vietnamese
    label: str = ""  # its name in the summary and the edit list ("" : not shown, not editable)
    ask_if: Callable[["Context", dict], bool] | None = None
    error: str = ""  # what to say when the answer does not fit (types have a default)
    done_key: str | None = None  # a flag in the state marking the field answered (default: value present)
    aliases: tuple[str, ...] = ()  # what people call it at the summary besides its label ("sđt"), folded

    text_like: ClassVar[bool] = False  # any text is a plausible answer: questions need a question's form

    def any_text(self) -> bool:
        """Any text is a plausible answer: a question must then have a question's form."""
        return self.text_like

    def applies(self, ctx: "Context") -> bool:
        return self.ask_if is None or bool(self.ask_if(ctx, ctx.state))

    def is_done(self, st: dict) -> bool:
        return bool(st.get(self.done_key)) if self.done_key else st.get(self.key) is not None

    def store(self, st: dict, value: Any) -> None:
        if isinstance(value, dict):  # an option standing for several answers ("ẩn danh": no phone either)
            st.update(value)
        else:
            st[self.key] = value
        if self.done_key:
            st[self.done_key] = True

    def clear(self, st: dict) -> None:
        st.pop(self.key, None)
        if self.done_key:
            st.pop(self.done_key, None)

    def options(self, ctx: "Context") -> list[Option]:
        return []

    def buttons(self, form: "Form", ctx: "Context") -> list[Button]:
        return [Button(o.label, f"{form.name}:{o.wire}") for o in self.options(ctx)]

    def take(self, form: "Form", ctx: "Context") -> Any:
        """The value of this message's answer; raises Problem when it does not fit."""
        opts = self.options(ctx)
        b = ctx.msg.button
        if b:
            o = next((o for o in opts if f"{form.name}:{o.wire}" == b), None)
            if o is None:
                raise Problem(self.error or "Nút này không dành cho câu hỏi này. {You} chọn một nút bên dưới nhé.")
            return o.value
        o = match_option(ctx.msg.text or "", opts) if opts else None
        if o is not None:
            return o.value
        return self.take_text(ctx, (ctx.msg.text or "").strip())

    def take_text(self, ctx: "Context", text: str) -> Any:
        raise Problem(self.error or "{You} chọn một mục bên dưới giúp {me} nhé (bấm nút hoặc gõ số thứ tự).")

    def show(self, ctx: "Context", st: dict) -> str:
        v = st.get(self.key)
        return "(chưa có)" if v is None or v == "" else str(v)


@dataclass
class Text(Field):
    min_len: int = 1  # letters and digits, not counting spaces and marks
    max_len: int = 500
    skip: str = ""  # label of a "skip" button (empty: the field is required)
    text_like: ClassVar[bool] = True

    def options(self, ctx):
        return [Option(self.skip, "", "skip", ("bo qua", "khong", "ko", "thoi"))] if self.skip else []

    def take(self, form, ctx):
        # any text is an answer here: only the skip option typed alone skips ("không có" does,
        # "không thuộc thẩm quyền phường" is a note)
        opts = self.options(ctx)
        t = _clean(ctx.msg.text)
        if opts and not ctx.msg.button and t not in (*opts[0].words, _clean(opts[0].label), "1"):
            return self.take_text(ctx, (ctx.msg.text or "").strip())
        return super().take(form, ctx)

    def take_text(self, ctx, text):
        if not text or sum(ch.isalnum() for ch in text) < self.min_len:
            raise Problem(self.error or "{You} nhập thêm vài chữ giúp {me} nhé.")
        if len(text) > self.max_len:
            raise Problem(f"Hơi dài rồi, {{you}} rút gọn dưới {self.max_len} ký tự giúp {{me}} nhé.")
        return text


@dataclass
class Number(Field):
    lo: int = 0
    hi: int = 10 ** 6

    def take_text(self, ctx, text):
        n = parse_int(_clean(text).replace(" ", ""), self.lo, self.hi)
        if n is None:
            raise Problem(self.error or f"{{You}} nhập một số từ {self.lo} đến {self.hi} giúp {{me}} nhé (chỉ gõ chữ số).")
        return n


@dataclass
class Phone(Field):
    """A phone number, or one of `alternatives` ("Gửi ẩn danh"): typing "ẩn danh" picks it."""
    alternatives: list[Option] = dataclasses.field(default_factory=list)

    def options(self, ctx):
        return self.alternatives

    def take_text(self, ctx, text):
        digits = digits_of(text)
        if not digits:
            raise Problem(self.error or "{Me} chưa thấy số điện thoại nào. {You} nhập số (9 đến 11 chữ số), "
                          "hoặc chọn một nút bên dưới.")
        if not 9 <= len(digits) <= 11:
            raise Problem(f"Số điện thoại chưa đúng: {len(digits)} chữ số, cần 9 đến 11. "
                          "{You} nhập lại, hoặc chọn một nút bên dưới.")
        return digits


@dataclass
class Date(Field):
    """dd/mm or dd/mm/yyyy; stored as ISO text."""

    def take_text(self, ctx, text):
        m = re.fullmatch(r"\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{2,4}))?\s*", text or "")
        if m:
            year = int(m.group(3)) if m.group(3) else ctx.now.year
            year = year + 2000 if year < 100 else year
            try:
                return date(year, int(m.group(2)), int(m.group(1))).isoformat()
            except ValueError:
                raise Problem("Ngày này không có trên lịch. {You} kiểm tra lại ngày và tháng nhé.")
        raise Problem(self.error or "{You} nhập ngày theo dạng ngày/tháng/năm, ví dụ 25/12/2026.")


@dataclass
class Choice(Field):
    """One of the options (a list, or a function of ctx for options from the ward's profile);
    with free_text, an answer matching no option is kept as typed."""
    choices: list[Option] | Callable[["Context"], list[Option]] = dataclasses.field(default_factory=list)
    free_text: bool = False

    def options(self, ctx):
        return self.choices(ctx) if callable(self.choices) else list(self.choices)

    def any_text(self):
        return self.free_text

    def take_text(self, ctx, text):
        if self.free_text and text:
            return text
        return super().take_text(ctx, text)

    def show(self, ctx, st):
        v = st.get(self.key)
        return next((o.label for o in self.options(ctx) if o.value == v), super().show(ctx, st))


@dataclass
class MultiChoice(Choice):
    """Several options, kept in the state as a list while chosen: each press (or typed "1 3")
    toggles one, "Xong" ends (the field is answered by done_key, default "<key>_done")."""
    done_label: str = "Xong"
    done_wire: str = ""  # default "<key>.done"
    at_least_one: str = ""  # non-empty: the message when "Xong" comes with nothing chosen

    def __post_init__(self):
        self.done_key = self.done_key or f"{self.key}_done"
        self.done_wire = self.done_wire or f"{self.key}.done"

    def buttons(self, form, ctx):
        chosen = set(ctx.state.get(self.key) or [])
        return [Button(("✓ " if o.value in chosen else "") + o.label, f"{form.name}:{o.wire}")
                for o in self.options(ctx)] + [Button(self.done_label, f"{form.name}:{self.done_wire}")]

    def store(self, st, value):
        st[self.key] = value
        st[self.done_key] = True

    def show(self, ctx, st):
        chosen = st.get(self.key) or []
        return ", ".join(o.label for o in self.options(ctx) if o.value in chosen) or "(chưa chọn)"

    def take(self, form, ctx):
        chosen = list(ctx.state.get(self.key) or [])
        opts = self.options(ctx)
        b, t = ctx.msg.button, _clean(ctx.msg.text)
        if b == f"{form.name}:{self.done_wire}" or (not b and t in ("xong", "xong roi", "het", "roi", "ok", "hoan tat",
                                                                      _clean(self.done_label))):
            if self.at_least_one and not chosen:
                raise Problem(self.at_least_one)
            return chosen
        picked: list[Option] = []
        if b:
            picked = [o for o in opts if f"{form.name}:{o.wire}" == b]
        elif t and all(w.isdigit() for w in t.split()):
            picked = [opts[int(w) - 1] for w in t.split() if parse_int(w, 1, len(opts))]
        elif t:
            o = match_option(t, opts)
            picked = [o] if o else []
        if not picked:
            raise Problem(self.error or "{You} chọn các mục bên dưới (bấm nút hoặc gõ số, ví dụ \"1 3\"), "
                          f"xong thì bấm {self.done_label}.")
        for o in picked:
            chosen.remove(o.value) if o.value in chosen else chosen.append(o.value)
        ctx.state[self.key] = chosen
        raise Again()


class Again(Exception):
    """The field took the answer but is not finished (a toggle): ask it again."""


@dataclass
class Photos(Field):
    """Photos are taken at any step (Form.before); this step only ends with "done"/"skip"."""
    max_photos: int = 5
    done_wire: str = "photodone"

    def options(self, ctx):
        n = len(ctx.state.get(self.key) or [])
        return [Option("Tiếp tục" if n else "Bỏ qua", True, self.done_wire,
                       ("xong", "xong roi", "het", "bo qua", "khong co", "ko co", "k co", "khong co anh",
                        "ko co anh", "k co anh", "khong", "ko", "tiep", "tiep tuc", "khong chup", "ko chup"))]

    def is_done(self, st):
        return bool(st.get(self.done_key or f"{self.key}_done"))

    def store(self, st, value):
        st[self.done_key or f"{self.key}_done"] = True

    def clear(self, st):
        st.pop(self.done_key or f"{self.key}_done", None)

    def take_text(self, ctx, text):
        raise Problem(self.error or "{You} gửi ảnh chụp, hoặc bấm nút bên dưới để sang bước tiếp theo.")

    def show(self, ctx, st):
        return str(len(st.get(self.key) or []))


@dataclass
class Location(Field):
    """A shared location (lat/lon in the state, taken at any step by Form.before), or, with
    address_min > 0, a typed address stored under `key`."""
    address_min: int = 0

    def any_text(self):
        return self.address_min > 0

    def is_done(self, st):
        return st.get("lat") is not None or bool(st.get(self.key))

    def clear(self, st):
        for k in (self.key, "lat", "lon"):
            st.pop(k, None)

    def take_text(self, ctx, text):
        t = _clean(text)
        if not self.address_min or len(text) < self.address_min or t in _NOT_A_PLACE \
                or (len(t.split()) <= 3 and opt.polarity(t) is not None):
            # "bỏ qua", "không biết", "đúng rồi" are no place: say what is needed instead of keeping them
            raise Problem(self.error or "{You} chia sẻ vị trí (nút ghim/📎 > Vị trí) giúp {me} nhé.")
        return text[:300]


_NOT_A_PLACE = ("bo qua", "tiep tuc", "tiep", "xong", "xong roi", "khong biet", "ko biet", "k biet", "chua biet",
                "khong ro", "ko ro", "khong nho", "ko nho", "sao cung duoc", "gi cung duoc")


# ------------------------------------------------------------------------ a cancel in words
_CANCEL_WORDS = ("huy", "huy bo", "huy di", "huy nhe", "huy a", "thoi", "thoi a", "thoi nhe", "thoi di", "thoi huy",
                 "thoi bo", "thoi bo di", "bo di", "dung lai", "khoi", "thoi khoi", "thoi khong can", "khong can nua")
_CANCEL_RX = re.compile(r"(thoi |vay thoi |thoi thi )?(khong|ko|k|hong) (can|gui|lam|dien|dang ky|phan anh|ghi|hoi|muon)"
                        r"( \w+){0,3} nua( a| nhe| roi| dau)?|thoi (khong|ko|k) can( \w+){0,2}")


def _names_option(text: str | None, options: list[Option]) -> bool:
    """The text is an option's label or one of its own synonyms ("thôi" for "Không công khai"), not
    only a loose "no" (a bare "thôi" is not "Không rõ")."""
    t = _clean(text)
    return any(t == _clean(o.label) or t in o.words or any(t.startswith(w + " ") for w in o.words if len(w) > 2)
               for o in options)


def typed_cancel(text: str | None) -> bool:
    """"thôi", "hủy", "thôi không gửi nữa": the resident wants out of the form (the words of /huy).
    Folded, so "dừng lại" is "dung lai"; a bare "dung" ("đúng", yes) is never a cancel."""
    t = _clean(text)
    return bool(t) and (t in _CANCEL_WORDS or _CANCEL_RX.fullmatch(t) is not None)


# ------------------------------------------------------------------------ questions mid-form
_ASKING = ("bao nhieu", "bao lau", "the nao", "nhu nao", "o dau", "lam sao", "khi nao", "may gio", "tai sao",
           "vi sao", "duoc khong", "co duoc", "cho hoi", "xin hoi", "hoi chut", "cho em hoi", "cho toi hoi")
_ASKING_LAST = ("khong", "ko", "k", "chua", "gi", "nao", "dau", "sao", "a", "ha", "nhi")
QUESTION_KINDS = ("faq", "fallback", "smalltalk")
CLEAR_FAQ = 0.75  # a knowledge-base match this sure, asked as a question, is a new question of its own


def reads_as_question(text: str) -> bool:
    """The form of a question: a question mark, or Vietnamese question words."""
    if "?" in (text or ""):
        return True
    t = _clean(text)
    words = t.split()
    return bool(words) and (any(f" {a} " in f" {t} " for a in _ASKING) or
                            (len(words) >= 3 and words[-1] in _ASKING_LAST))


def is_question(ctx: "Context", f: Field | None, parsed: bool) -> bool:
    """Whether this message is a question to answer rather than an answer to the field. Text
    fields take any text, so there the message must read as a question and not as a report;
    elsewhere (the answer did not fit) the understanding's kind and confidence are enough."""
    text = ctx.msg.text or ""
    if ctx.msg.button or ctx.msg.command or len(_clean(text).split()) < 3:
        return False
    if parsed or f is None or f.any_text():
        # the cheap lexical test first: a description is understood only when it reads as a question
        return reads_as_question(text) and ctx.understanding.kind in QUESTION_KINDS
    u = ctx.understanding
    if u.kind not in QUESTION_KINDS:
        return False
    # not worded as a question, only a sure, single match is one: a sentence the FAQ can only
    # guess at ("hướng dẫn 3 hộ cài vneid" at a place step) is an answer that did not fit
    return reads_as_question(text) or (u.kind == "faq" and (u.confidence or 0) >= 0.6 and not u.ambiguous)


def clearly_new_question(ctx: "Context") -> bool:
    """Where the answer is words for a person (a comment, an answer to staff), only a question of
    its own is set aside: worded as a question and matched surely to the knowledge base ("cho hỏi
    làm căn cước ở đâu"). "Bên phải, gần nhà số 5 có được không" stays an answer."""
    msg = ctx.msg
    if msg.button or msg.command or msg.photos or msg.files or len(_clean(msg.text).split()) < 3 \
            or not reads_as_question(msg.text or ""):
        return False
    u = ctx.understanding
    return u.kind == "faq" and (u.confidence or 0) >= CLEAR_FAQ and not u.ambiguous


# ------------------------------------------------------------------------ the form
# Form methods the engine and handlers call from outside: every reply made while one runs speaks
# to the resident as they name themselves ({You}/{you}/{me}/{Me} in prompts, errors, summaries,
# confirmations and button labels). Staff forms (with roles) stay neutral ("bạn"/"mình").
_VOICED = ("handle", "on_start", "resume", "ask", "ask_next", "ask_field", "ask_confirm", "ask_edit", "submit",
           "cancel", "answer_question")


def _voiced(fn):
    @functools.wraps(fn)
    def run(self, ctx, *args, **kw):
        if "reply" in vars(ctx):  # already inside a voiced call: one rendering is enough
            return fn(self, ctx, *args, **kw)
        plain = ctx.reply

        def reply(text, buttons=None, **rkw):
            btns = [b if isinstance(b, Button) else Button(*b) for b in (buttons or [])]
            return plain(spoken(ctx, self, text) if isinstance(text, str) else text,
                         [Button(spoken(ctx, self, b.text), b.data) for b in btns], **rkw)
        ctx.reply = reply
        try:
            return fn(self, ctx, *args, **kw)
        finally:
            del ctx.reply
    run.voiced = True
    return run


class Form(Flow):
    reads_typed_options = True  # the engine leaves typed answers to the form's own matching
    fields: ClassVar[list[Field]] = []
    summary: ClassVar[bool] = True
    summary_title: ClassVar[str] = "{You} kiểm tra lại:"
    submit_label: ClassVar[str] = "Gửi"
    resume_prompt: ClassVar[str] = ""  # default: "{You} muốn tiếp tục {title} không?"
    cancelled: ClassVar[str] = ""  # default: texts.FLOW_CANCELLED
    # A question mid-form is answered by the FAQ. False where a question is the answer itself
    # (staff typing a question or a note for a resident); "clear" where the answer is words for a
    # person but a clearly new question should not reach them instead (clearly_new_question).
    asks_aside: ClassVar[bool | str] = True

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name in _VOICED:
            fn = cls.__dict__.get(name)
            if fn is not None and not getattr(fn, "voiced", False):
                setattr(cls, name, _voiced(fn))

    # --- the one entry point -----------------------------------------------------------
    def handle(self, ctx: "Context") -> None:
        if self.before(ctx):
            return
        b, name = ctx.msg.button or "", self.name
        if b == f"{name}:cancel":
            return self.cancel(ctx)
        if b == f"{name}:edit":
            return self.ask_edit(ctx)
        if b.startswith(f"{name}:edit:"):
            f = self.field(b[len(name) + 6:])
            if f is None or not f.label or not f.applies(ctx):  # only what the edit list offers
                return self.ask_edit(ctx)
            f.clear(ctx.state)
            return self.ask_field(ctx, f)
        step = ctx.conv.step or "start"
        if step == "confirm":
            return self.on_confirm_step(ctx)
        f = self.field(step)
        if f is None or f.is_done(ctx.state) and not b:
            return self.ask_next(ctx)
        if not b and typed_cancel(ctx.msg.text) and not _names_option(ctx.msg.text, f.options(ctx)):
            return self.cancel(ctx)  # "thôi", "hủy" where it is not one of the answers: /huy typed in words
        if f.any_text() and self.is_aside(ctx, f, parsed=True):
            return self.answer_question(ctx)
        try:
            custom = getattr(self, f"take_{f.key}", None)
            value = custom(ctx) if custom else f.take(self, ctx)
            hook = getattr(self, f"validate_{f.key}", None)
            problem = hook(ctx, value) if hook else None
            if problem:
                raise Problem(problem)
        except Again:
            return self.ask_field(ctx, f)
        except Problem as p:
            if self.is_aside(ctx, f, parsed=False):
                return self.answer_question(ctx)
            ctx.reply(p.message, buttons=p.buttons if p.buttons is not None else self.field_buttons(ctx, f))
            return
        f.store(ctx.state, value)
        self.ask_next(ctx)

    # --- hooks for subclasses ------------------------------------------------------------
    def is_aside(self, ctx: "Context", f: Field | None, parsed: bool) -> bool:
        """Whether this message is a question to answer apart from the form (asks_aside)."""
        if self.asks_aside == "clear":
            return clearly_new_question(ctx)
        return bool(self.asks_aside) and is_question(ctx, f, parsed)

    def before(self, ctx: "Context") -> bool:
        """Input taken at any step (photos, a location); True when it answered the message."""
        return False

    def submit(self, ctx: "Context") -> None:
        raise NotImplementedError

    def summary_lines(self, ctx: "Context") -> list[str]:
        return [f"• {f.label}: {f.show(ctx, ctx.state)}" for f in self.fields if f.label and f.applies(ctx)]

    def summary_buttons(self) -> list[Button]:
        n = self.name
        return [Button(self.submit_label, f"{n}:send"), Button("Sửa", f"{n}:edit"), Button("Hủy", f"{n}:cancel")]

    # --- asking --------------------------------------------------------------------------
    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    def next_field(self, ctx: "Context") -> Field | None:
        return next((f for f in self.fields if f.applies(ctx) and not f.is_done(ctx.state)), None)

    def field_buttons(self, ctx: "Context", f: Field) -> list[Button]:
        return f.buttons(self, ctx)

    def ask_next(self, ctx: "Context") -> None:
        f = self.next_field(ctx)
        if f is not None:
            return self.ask_field(ctx, f)
        if self.summary:
            return self.ask_confirm(ctx)
        self.submit(ctx)

    def ask_field(self, ctx: "Context", f: Field) -> None:
        ctx.goto(f.key)
        custom = getattr(self, f"ask_{f.key}", None)
        if custom:
            return custom(ctx)
        ctx.reply(f.ask, buttons=self.field_buttons(ctx, f))

    def ask(self, ctx: "Context", repeat: bool = False) -> None:  # the step in progress, again
        self.ask_next(ctx)

    def on_start(self, ctx: "Context") -> None:
        self.ask_next(ctx)

    def ask_confirm(self, ctx: "Context") -> None:
        ctx.goto("confirm")
        ctx.state.pop("_editing", None)  # back at the summary: typed "1" is its first button again
        ctx.reply("\n".join([self.summary_title, *self.summary_lines(ctx)]), buttons=self.summary_buttons())

    def edit_buttons(self, ctx: "Context") -> list[Button]:
        btns = [Button(f.label, f"{self.name}:edit:{f.key}") for f in self.fields if f.label and f.applies(ctx)]
        return btns + [Button("Không sửa nữa", f"{self.name}:review")]

    def typed_field(self, ctx: "Context", text: str | None) -> str | None:
        """The edit button of the field named at the summary ("số hộ", "sửa địa điểm"), or None.
        Only the label's own words: a number or a yes/no there keeps its summary meaning."""
        t = _clean(text)
        for lead in ("chinh sua ", "sua lai ", "sua ", "doi lai ", "doi ", "chinh "):
            if t.startswith(lead):
                t = t[len(lead):]
                break
        if not t or any(w.isdigit() for w in t.split()):
            return None
        fields_ = [b for b in self.edit_buttons(ctx) if b.data != f"{self.name}:review"]
        aliases = {b.data: getattr(self.field(b.data.rpartition(":")[2]), "aliases", ()) for b in fields_}
        hits = [b for b in fields_ if _clean(b.text) == t or t in aliases[b.data]] or \
            [b for b in fields_ if set(t.split()) <= set(_clean(b.text).split())]
        return hits[0].data if len(hits) == 1 else None

    def ask_edit(self, ctx: "Context") -> None:
        ctx.goto("confirm")
        ctx.state["_editing"] = True  # typed "2" now means the list's second field, not "Sửa"
        ctx.reply("{You} muốn sửa mục nào?", buttons=self.edit_buttons(ctx))

    def on_confirm_step(self, ctx: "Context") -> None:
        b = ctx.msg.button or ""
        editing = ctx.state.pop("_editing", False)
        if not b and ctx.msg.text:
            words = {"send": ("gui", "gui di", "gui luon", "ok", "dong y", "xac nhan", "co", "dung", "nop"),
                     "edit": ("sua", "chinh sua", "sua lai", "doi"), "cancel": ("huy", "thoi", "khong gui"),
                     "review": ("khong sua", "thoi khong sua", "quay lai")}
            shown = self.edit_buttons(ctx) if editing else self.summary_buttons()
            opts = [Option(bt.text, bt.data, bt.data.partition(":")[2],
                           words.get(bt.data.partition(":")[2], ())) for bt in shown]
            named = self.typed_field(ctx, ctx.msg.text)  # "sửa địa điểm", "sđt": that field
            o = match_option(ctx.msg.text, opts) if named is None else None
            b = named or (o.value if o else "")
            if b and b != ctx.msg.button:
                ctx.msg.button, ctx.msg.text = b, None
                return self.handle(ctx)
        if b == f"{self.name}:send":
            return self.submit(ctx)
        if b == f"{self.name}:review":
            return self.ask_confirm(ctx)
        if self.is_aside(ctx, None, parsed=False):
            return self.answer_question(ctx)
        ctx.reply(f"{{You}} bấm \"{self.submit_label}\" để gửi, \"Sửa\" để sửa một mục, hoặc \"Hủy\" nếu không gửi nữa.",
                  buttons=self.summary_buttons())

    def cancel(self, ctx: "Context") -> None:
        from bot import texts
        ctx.end_flow()
        ctx.reply(self.cancelled or texts.FLOW_CANCELLED.format(title=self.title))

    # --- leaving and coming back ---------------------------------------------------------
    def answer_question(self, ctx: "Context") -> None:
        """Set the form aside, answer the message as if no form were open, offer to go on."""
        park(ctx)
        ctx.app.engine.answer_freely(ctx)
        if ctx.conv.flow is None and parked(ctx) is not None:
            earlier = [{"text": b.text, "data": b.data} for r in ctx.replies for b in r.buttons]
            prompt = ctx.reply(*self.aside_prompt(ctx, parked(ctx)["data"]))
            # Each message is numbered from 1 on channels without buttons: "1" typed now means the
            # last message's first option, "Tiếp tục"; the answer's own options stay typeable by words.
            ctx.keep_buttons = [{"text": b.text, "data": b.data} for b in prompt.buttons] + earlier

    def aside_prompt(self, ctx: "Context", state: dict) -> tuple[str, list[Button]]:
        """The line after the answer to a question asked mid-form, with its options."""
        return (self.resume_prompt or f"{{You}} muốn tiếp tục {self.title} không?",
                [Resume(self.name).button("Tiếp tục"), Drop(self.name).button("Thôi")])

    def resume(self, ctx: "Context") -> None:
        ctx.reply(f"{{Me}} tiếp tục {self.title} nhé.")
        step = ctx.conv.step
        f = self.field(step) if step else None
        if step == "confirm":
            return self.ask_confirm(ctx)
        if f is not None and f.applies(ctx) and not f.is_done(ctx.state):
            return self.ask_field(ctx, f)
        self.ask_next(ctx)


for _name in _VOICED:
    setattr(Form, _name, _voiced(getattr(Form, _name)))


def park(ctx: "Context") -> None:
    """Set the open form aside (kept under conv.data, with when) so that the chat is free."""
    conv = ctx.conv
    saved = {"flow": conv.flow, "step": conv.step, "data": dict(conv.data or {}), "owner": conv.flow_owner_id,
             "at": ctx.now.isoformat()}
    conv.flow, conv.step = None, None  # flow_owner_id stays: /xoadulieu finds the person's form by it
    conv.data = {PARKED: saved}


def parked(ctx: "Context") -> dict | None:
    p = (ctx.conv.data or {}).get(PARKED)
    return p if isinstance(p, dict) and p.get("flow") else None


def _fresh(ctx: "Context", p: dict) -> bool:
    try:
        at = datetime.fromisoformat(p["at"])
    except (KeyError, TypeError, ValueError):
        return False
    now = ctx.now
    if (at.tzinfo is None) != (now.tzinfo is None):
        at, now = at.replace(tzinfo=None), now.replace(tzinfo=None)
    return now - at <= RESUME_WITHIN


def take_up(ctx: "Context", name: str | None = None) -> bool:
    """Bring back the form set aside (of that name); True when it answered the message."""
    from bot import texts
    p = parked(ctx)
    if p is None or (name and p["flow"] != name):
        return False
    form = ctx.app.router.flows.get(p["flow"])
    rest = {k: v for k, v in ctx.conv.data.items() if k != PARKED}
    if form is None or not _fresh(ctx, p):
        ctx.conv.data = rest
        ctx.reply(_speak(ctx, "Biểu mẫu {you} điền dở đã quá lâu nên {me} không giữ nữa. {You} bắt đầu lại giúp {me} nhé."))
        return True
    if p.get("owner") not in (None, ctx.person.id):
        return False  # in a group, only its owner takes it up
    roles = getattr(form, "roles", ())
    if roles and not ctx.has_role(*roles):
        ctx.conv.data = rest
        ctx.reply(texts.ROLE_LOST.format(title=form.title or "biểu mẫu này"))
        return True
    restore(ctx, p)
    form.resume(ctx)
    return True


def parked_form(ctx: "Context", name: str) -> dict | None:
    """This person's form `name` set aside and still fresh, or None."""
    p = parked(ctx)
    if p is None or p["flow"] != name or p.get("owner") not in (None, ctx.person.id) or not _fresh(ctx, p):
        return None
    return p


def parked_title(ctx: "Context") -> str | None:
    """The title of this person's form set aside and still fresh ("ghi nhận buổi hỗ trợ"), or None:
    a message nothing else understood may well be its next answer."""
    p = parked(ctx)
    if p is None or p.get("owner") not in (None, ctx.person.id) or not _fresh(ctx, p):
        return None
    form = ctx.app.router.flows.get(p["flow"])
    return (getattr(form, "title", "") or "biểu mẫu") if form is not None else None


def restore(ctx: "Context", p: dict) -> None:
    """The form set aside (parked(ctx)) is the open form again, as it was."""
    conv = ctx.conv
    conv.flow, conv.step, conv.data, conv.flow_owner_id = p["flow"], p["step"], p["data"], p.get("owner")


_RESUME_WORDS = ("tiep tuc", "tiep", "quay lai", "lam tiep", "dien tiep", "tiep tuc di", "tiep tuc nhe")


def take_up_typed(ctx: "Context") -> bool:
    """"tiếp tục" typed with a form set aside (the Resume button may have scrolled away)."""
    t = _clean(ctx.msg.text)
    if not t or not (t in _RESUME_WORDS or (t.startswith("tiep tuc ") and len(t.split()) <= 4)):
        return False
    if parked(ctx) is None:  # nothing to take up: say so, never a guess at the knowledge base
        ctx.reply(_speak(ctx, NOTHING_TO_RESUME))
        return True
    return take_up(ctx)


NOTHING_TO_RESUME = "Không còn biểu mẫu nào đang dở để tiếp tục. {You} cần gì cứ nhắn {me} nhé."


def cb_resume(ctx: "Context", payload: str) -> None:
    b = Resume.parse(payload)
    if b is None or not take_up(ctx, b.form):
        ctx.reply(_speak(ctx, NOTHING_TO_RESUME))


def drop_parked(ctx: "Context") -> bool:
    """/huy with no form open but one set aside (by this person): forget it; True when done."""
    from bot import texts
    p = parked(ctx)
    if p is None or p.get("owner") not in (None, ctx.person.id):
        return False
    ctx.conv.data = {k: v for k, v in ctx.conv.data.items() if k != PARKED}
    form = ctx.app.router.flows.get(p["flow"])
    ctx.reply(spoken(ctx, form, texts.FLOW_CANCELLED.format(title=getattr(form, "title", "") or "biểu mẫu")))
    return True


def spoken(ctx: "Context", flow, text: str) -> str:
    """A form's text with {You}/{me} filled in for its person: neutral for staff forms (with roles)."""
    term = None if getattr(flow, "roles", ()) else getattr(ctx.person, "address_term", None)
    return dialogue.speak(text, term)


def speak_to(ctx: "Context", text: str) -> str:
    """{You}/{me} as the person names themselves ("bác", "cháu"); neutral otherwise. For any
    resident-facing text, in forms or not."""
    return dialogue.speak(text, getattr(ctx.person, "address_term", None))


_speak = speak_to


def cb_drop(ctx: "Context", payload: str) -> None:
    b, p = Drop.parse(payload), parked(ctx)
    if b is not None and p is not None and p["flow"] == b.form and p.get("owner") in (None, ctx.person.id):
        ctx.conv.data = {k: v for k, v in ctx.conv.data.items() if k != PARKED}
        form = ctx.app.router.flows.get(b.form)
        ctx.reply(_speak(ctx, f"Dạ vâng, {{me}} đã bỏ {getattr(form, 'title', '') or 'biểu mẫu'} đang dở. "
                              "{You} cần gì cứ nhắn {me} nhé."))
        return
    ctx.reply(_speak(ctx, "Dạ vâng. {You} cần gì cứ nhắn {me} nhé."))


# ------------------------------------------------------------------------ a name, asked once
NAME_QUESTION = "Cán bộ nên gọi {you} là gì? (ví dụ: chị Lan, bác Tư)"


def person_name(person) -> str | None:
    """The name staff should use: the one the person gave us, else the platform's."""
    return (getattr(person, "full_name", None) or person.display_name or "").strip() or None


def needs_name(ctx: "Context") -> bool:
    """No name on record and never asked ("" in full_name: asked, and they skipped)."""
    return ctx.person.full_name is None and not (ctx.person.display_name or "").strip()


def keep_name(ctx: "Context", name: str) -> None:
    """The name given (or "" for skipped: never asked again), on the person, for every feature."""
    name = (name or "").strip()[:60]
    ctx.person.full_name = name
    if name and not (ctx.person.display_name or "").strip():
        ctx.person.display_name = name  # lists that read the platform name show it too
    ctx.session.add(ctx.person)


_NOT_IN_NAMES = frozenset(("khong", "ko", "chua", "nua", "duoc", "dc", "muon", "gi"))  # folded; "Lâm", "Gia" are names


class AskName(Form):
    """Where staff need a name (a class list, a call-back) and the person has none on record: ask
    once; the answer is kept on the person (staff lists show it), so it is never asked again."""
    name = "hoiten"
    title = "cho biết tên"
    summary = False
    fields = [Text("name", NAME_QUESTION, min_len=2, max_len=60, skip="Bỏ qua",
                   error="{You} gõ tên để cán bộ biết cách xưng hô, hoặc bấm Bỏ qua.")]

    def validate_name(self, ctx: "Context", name: str) -> str | None:
        words = set(_clean(name).split())
        if words & _NOT_IN_NAMES or len(words) > 6 or reads_as_question(name):
            # "không đi nữa" typed for another message's buttons (/lophoc leaves this form open)
            return ("{Me} chưa thấy tên trong câu này. {You} gõ tên để cán bộ xưng hô (ví dụ: chị Lan), "
                    "hoặc bấm Bỏ qua rồi nhắn lại việc {you} cần.")
        return None

    def submit(self, ctx: "Context") -> None:
        name = (ctx.state.get("name") or "").strip()[:60]
        ctx.end_flow()
        keep_name(ctx, name)
        if name:
            ctx.reply(f"Cảm ơn {name}, cán bộ sẽ gọi {{you}} như vậy.")
        else:
            ctx.reply(_speak(ctx, "Dạ vâng. {You} cần gì cứ nhắn {me} nhé."))


def ask_name_once(ctx: "Context") -> bool:
    """Ask the person's name if none is on record and no form is open; True when asked."""
    if ctx.conv.flow or not needs_name(ctx) or ctx.msg.is_group:
        return False
    ctx.run_flow(AskName.name)
    return True


def register(r: "Router") -> None:
    r.callback(Resume.prefix)(cb_resume)
    r.callback(Drop.prefix)(cb_drop)
    r.flow(AskName())
