"""The unanswered-question log: every question the assistant could not answer, asked back about
("Ý bạn là...?") or answered with low confidence, kept once per normalised text with a count,
its best guesses and first/last seen. Staff attach a question to a KB entry (it becomes an
example question, so the rebuilt index answers it) or mark it out of scope (it becomes an
out_of_scope example). Personal data is masked before anything is stored."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import yaml
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from nlu.normalize import fold, normalize, syllables

REASONS = ("fallback", "ambiguous", "low_confidence")
STATUSES = ("open", "attached", "out_of_scope")
LOW_CONFIDENCE = 0.6  # an answered FAQ below this is logged: eval sets: 1 of 278 right answers below; off-KB misfires 0.45-0.58
MAX_TEXT = 1000
GROUP_JACCARD = 0.5
OOS_FILE = "out_of_scope_staff.yml"  # staff-marked examples, read with the other nlu/data/*.yml


class UnansweredQuestion(SQLModel, table=True):
    __tablename__ = "unanswered_question"
    __table_args__ = (UniqueConstraint("norm_key", name="uq_unanswered_norm_key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    text: str = Field(max_length=MAX_TEXT)  # masked
    norm_key: str = Field(max_length=MAX_TEXT)
    count: int = 1
    first_seen: datetime
    last_seen: datetime
    guesses: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str = Field(max_length=16)
    status: str = Field(default="open", max_length=16, index=True)
    topic: Optional[str] = Field(default=None, max_length=100)
    resolved_by: Optional[str] = Field(default=None, max_length=100)
    resolved_at: Optional[datetime] = None


# ---------------------------------------------------------------- masking

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Vietnamese phone numbers: 0xxxxxxxxx / +84 / 84, with optional spaces, dots or dashes inside.
_PHONE = re.compile(r"(?<![\w])(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?![\w])")
_ID = re.compile(r"(?<![\w])(?:\d{12}|\d{9})(?![\w])")  # căn cước / CCCD (12), old CMND (9)
_LONG_DIGITS = re.compile(r"(?<![\w])\d{8,}(?![\w])")  # any other long number: account, id...
# "tên là X", "tên tôi là X", "tên X": what follows is a name, whatever its case.
_PRON = r"(?:t[ôo]i|em|m[ìi]nh|con|ch[áa]u|b[ée]|anh|ch[ịi]|c[ôo]|ch[úu]|b[áa]c)"
_NAME_ANY = re.compile(r"(?i)\b(" + _PRON + r"\s+t[êe]n(?:\s+l[àa]\b)?|t[êe]n(?:\s+" + _PRON + r")?\s+l[àa]\b|"
                       r"h[ọo]\s+(?:v[àa]\s+)?t[êe]n\s*:?)\s*((?:[^\W\d_]+[ \t]*){1,4})", re.UNICODE)
# "tôi là X", "em là X", "mình là X": a name only when it is written with capitals.
_NAME_CAP = re.compile(r"((?i:\b(?:t[ôo]i|em|m[ìi]nh|ch[áa]u|con)\s+l[àa]))\s+"
                       r"((?:[A-ZÀ-ỸĐ][^\W\d_]*\s*){1,4})", re.UNICODE)
# words that end a name when it is written in lower case ("tên là lan muốn hỏi...")
_NAME_STOP = set("""muốn cần hỏi xin ở cho và nha nhé ạ à ơi làm đang có không ko để tôi em mình năm tại người
là với được dc bị vậy sao gì thế này đó rồi sẽ phải thì mà nên""".split())
_NAME_STOP |= {fold(w) for w in _NAME_STOP if fold(w) not in {"minh", "the", "nam", "do", "toi"}}  # typed without marks


def _mask_name(m: re.Match) -> str:
    words = m.group(2).split()
    kept = 0
    for w in words:
        if w.lower() in _NAME_STOP:
            break
        kept += 1
    if not kept:
        return m.group(0)
    tail = " ".join(words[kept:])
    end = " " if m.group(2)[-1:].isspace() else ""
    return f"{m.group(1)} [tên]" + (" " + tail if tail else "") + end


def mask(text: str) -> str:
    """Phone numbers, id numbers, e-mails and names where recognisable replaced by [..] tags."""
    t = _EMAIL.sub("[email]", text)
    t = _PHONE.sub("[số điện thoại]", t)
    t = _ID.sub("[số giấy tờ]", t)
    t = _LONG_DIGITS.sub("[số]", t)
    t = _NAME_ANY.sub(_mask_name, t)
    t = _NAME_CAP.sub(_mask_name, t)
    return re.sub(r"[ \t]+", " ", t).strip()


def norm_key(text: str) -> str:
    """Same question typed differently (case, marks, punctuation, teencode) -> same key."""
    return " ".join(fold(w) for w in syllables(normalize(text)))[:MAX_TEXT]


def _tokens(text: str) -> set[str]:
    return set(norm_key(text).split())


# ---------------------------------------------------------------- recording

def reason_for(understanding) -> str | None:
    """Why a message belongs in the log, or None when it was answered confidently (or is not a
    question for the KB at all: a report, small talk)."""
    kind = getattr(understanding, "kind", None)
    if kind == "fallback":
        return "fallback"
    if kind == "faq":
        if getattr(understanding, "ambiguous", False):
            return "ambiguous"
        if float(getattr(understanding, "confidence", 1.0)) < LOW_CONFIDENCE:
            return "low_confidence"
    return None


def record(session: Session, text: str, understanding, now: datetime,
           reason: str | None = None) -> UnansweredQuestion | None:
    """Logs one question (masked). The same normalised text increments the existing row. reason
    defaults to what the understanding says; None is returned when there is nothing to log."""
    reason = reason or reason_for(understanding)
    if reason not in REASONS or not (text or "").strip():
        return None
    masked = mask(text.strip())[:MAX_TEXT]
    key = norm_key(masked)
    if not key:
        return None
    guesses = [{"topic": t, "score": round(float(s), 4)} for t, s in (getattr(understanding, "candidates", None) or [])[:3]]
    row = session.exec(select(UnansweredQuestion).where(UnansweredQuestion.norm_key == key)).first()
    if row is None:
        row = UnansweredQuestion(text=masked, norm_key=key, count=1, first_seen=now, last_seen=now,
                                 guesses=guesses, reason=reason)
        try:
            with session.begin_nested():  # a concurrent first insert of the same text wins the race
                session.add(row)
                session.flush()
            return row
        except IntegrityError:
            row = session.exec(select(UnansweredQuestion).where(UnansweredQuestion.norm_key == key)).one()
    row.count += 1
    row.last_seen = now
    row.reason = reason
    if guesses:
        row.guesses = guesses
    session.add(row)
    session.flush()
    return row


# ---------------------------------------------------------------- grouping

@dataclass
class Group:
    questions: list[UnansweredQuestion] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [q.id for q in self.questions]

    @property
    def count(self) -> int:
        return sum(q.count for q in self.questions)

    @property
    def text(self) -> str:  # the most asked wording stands for the group
        return self.questions[0].text

    @property
    def last_seen(self) -> datetime:
        return max(q.last_seen for q in self.questions)

    @property
    def first_seen(self) -> datetime:
        return min(q.first_seen for q in self.questions)

    @property
    def guesses(self) -> list[dict]:
        """Topics guessed for the group's questions, weighted by how often each was asked."""
        score: dict[str, float] = {}
        for q in self.questions:
            for g in q.guesses or []:
                score[g["topic"]] = score.get(g["topic"], 0.0) + float(g.get("score", 0)) * q.count
        total = sum(q.count for q in self.questions) or 1
        return [{"topic": t, "score": round(s / total, 4)} for t, s in sorted(score.items(), key=lambda x: -x[1])][:3]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def groups(session: Session, limit: int = 50, threshold: float = GROUP_JACCARD) -> list[Group]:
    """Open questions grouped by similarity (Jaccard of folded words against each group's
    members), most asked group first."""
    rows = list(session.exec(select(UnansweredQuestion).where(UnansweredQuestion.status == "open")))
    rows.sort(key=lambda q: (-q.count, -q.last_seen.timestamp() if q.last_seen else 0, q.id))
    out: list[tuple[Group, list[set[str]]]] = []
    for q in rows:
        toks = _tokens(q.text)
        best, best_sim = None, 0.0
        for g, members in out:
            sim = max(_jaccard(toks, m) for m in members)
            if sim > best_sim:
                best, best_sim = (g, members), sim
        if best is not None and best_sim >= threshold:
            best[0].questions.append(q)
            best[1].append(toks)
        else:
            out.append((Group([q]), [toks]))
    result = [g for g, _ in out]
    result.sort(key=lambda g: (-g.count, -g.last_seen.timestamp()))
    return result[:limit]


# ---------------------------------------------------------------- staff actions

class UnansweredError(ValueError):
    """A staff action that cannot be done; the message is Vietnamese, for the CLI or back office."""


def _rows(session: Session, ids: list[int]) -> list[UnansweredQuestion]:
    rows = []
    for i in ids:
        row = session.get(UnansweredQuestion, int(i))
        if row is None:
            raise UnansweredError(f"Không có câu hỏi #{i}.")
        rows.append(row)
    return rows


def _example_text(text: str) -> str:
    """A masked question as an example: the [..] tags carry nothing to learn from."""
    t = re.sub(r"\s+", " ", re.sub(r"\[[^\]]*\]", " ", text))
    t = re.sub(r"\s+([,.;:!?])", r"\1", t)
    t = re.sub(r"([,.;:])(?:\s*[,.;:])+", r"\1", t)
    return t.strip(" ,.;:")


def _yaml_item(text: str) -> str:
    """text as a YAML sequence item value: plain when that reads back the same, else quoted."""
    try:
        if yaml.safe_load(f"- {text}") == [text]:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)


def append_question(kb_dir: Path, topic_id: str, texts: list[str]) -> Path:
    """Adds lines under the entry's `questions` in its YAML file, keeping every other line,
    comment and blank line as it was. Returns the file changed."""
    from knowledge.kb import load_raw
    for path in sorted(Path(kb_dir).glob("*.yaml")):
        src = path.read_text(encoding="utf-8")
        root = yaml.compose(src)
        if not isinstance(root, yaml.MappingNode):
            continue
        entries = dict((k.value, v) for k, v in root.value).get("entries")
        if not isinstance(entries, yaml.SequenceNode):
            continue
        for node in entries.value:
            if not isinstance(node, yaml.MappingNode):
                continue
            fields = {k.value: v for k, v in node.value}
            if getattr(fields.get("id"), "value", None) != topic_id:
                continue
            qnode = fields.get("questions")
            if not isinstance(qnode, yaml.SequenceNode):
                raise UnansweredError(f"Mục {topic_id} ({path.name}) không có danh sách 'questions'.")
            existing = {norm_key(str(q.value)) for q in qnode.value if isinstance(q, yaml.ScalarNode)}
            new = []
            for t in texts:
                if t and norm_key(t) not in existing:
                    existing.add(norm_key(t))
                    new.append(t)
            if not new:
                return path
            lines = src.splitlines(keepends=True)
            if qnode.flow_style or not qnode.value:
                # `questions: [a, b]`: add inside the brackets, on the same line
                end = qnode.end_mark
                line = lines[end.line]
                col = end.column - 1  # the closing bracket
                sep = ", " if qnode.value else ""
                items = ", ".join(json.dumps(t, ensure_ascii=False) for t in new)
                lines[end.line] = line[:col] + sep + items + line[col:]
            else:
                last, first = qnode.value[-1], qnode.value[0]
                prefix = lines[first.start_mark.line][:first.start_mark.column]  # e.g. "      - "
                if prefix.strip() != "-":
                    prefix = " " * max(0, first.start_mark.column - 2) + "- "
                # the item ends where its scalar ends (block scalars end on the next line, column 0)
                end_line = last.end_mark.line if last.end_mark.column > 0 else last.end_mark.line - 1
                block = "".join(f"{prefix}{_yaml_item(t)}\n" for t in new)
                if not lines[end_line].endswith("\n"):
                    lines[end_line] += "\n"
                lines.insert(end_line + 1, block)
            out = "".join(lines)
            # never leave a broken file behind: the result must read back with the new questions
            path.write_text(out, encoding="utf-8")
            try:
                got = {e.get("id"): e for _, e in load_raw(kb_dir)}.get(topic_id) or {}
            except Exception as e:
                path.write_text(src, encoding="utf-8")
                raise UnansweredError(f"Không ghi được vào {path.name}: {e}") from e
            if not all(t in (got.get("questions") or []) for t in new):
                path.write_text(src, encoding="utf-8")
                raise UnansweredError(f"Không ghi được câu hỏi vào {path.name}.")
            return path
    raise UnansweredError(f"Không có mục '{topic_id}' trong cơ sở tri thức.")


def attach(session: Session, ids: list[int], topic_id: str, kb_dir: Path, actor: str | None,
           now: datetime) -> Path:
    """The questions become example questions of the entry `topic_id` (its YAML file gains the
    lines) and are marked attached. The search index rebuilds from the changed KB on next load."""
    rows = _rows(session, ids)
    path = append_question(Path(kb_dir), topic_id, [_example_text(r.text) for r in rows])
    for r in rows:
        r.status, r.topic, r.resolved_by, r.resolved_at = "attached", topic_id, actor, now
        session.add(r)
    session.flush()
    return path


def _append_oos(nlu_dir: Path, texts: list[str]) -> Path:
    path = Path(nlu_dir) / OOS_FILE
    if path.exists():
        src = path.read_text(encoding="utf-8")
    else:
        src = ("# Questions ward staff marked out of scope (python -m bot kb out-of-scope ID):\n"
               "# the assistant learns not to answer them from the knowledge base.\n"
               "version: \"3.1\"\nnlu:\n- intent: out_of_scope\n  examples: |\n")
    from nlu import rasa
    have = {norm_key(t) for t in rasa.parse(src, str(path)).examples.get("out_of_scope", [])}
    add = []
    for t in texts:
        t = " ".join(t.split())
        if t and norm_key(t) not in have:
            have.add(norm_key(t))
            add.append(t)
    if add:
        if not src.endswith("\n"):
            src += "\n"
        src += "".join(f"    - {t}\n" for t in add)
        path.write_text(src, encoding="utf-8")
    return path


def mark_out_of_scope(session: Session, ids: list[int], actor: str | None, now: datetime,
                      nlu_dir: Path | None = None) -> Path:
    """The questions are marked out of scope and added as out_of_scope examples (nlu/data/
    out_of_scope_staff.yml by default), so the rebuilt index learns not to answer them."""
    from nlu import rasa
    rows = _rows(session, ids)
    path = _append_oos(Path(nlu_dir) if nlu_dir else rasa.DATA_DIR, [_example_text(r.text) for r in rows])
    for r in rows:
        r.status, r.topic, r.resolved_by, r.resolved_at = "out_of_scope", None, actor, now
        session.add(r)
    session.flush()
    return path
