"""Load the staff-edited knowledge base (entry schema v2) and render answers with the ward's own
facts. An entry has a phone-sized `short` first reply and `sections` of details the conversation
shows on request; `Entry.answer` (the full text) is derived from them, never written in YAML."""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from bot.profile import WardProfile

WHERE_LABELS = {"ttpvhcc": "centre", "conganphuong": "police", "conganphuong_or_online": "police",
                "online": "online"}

# Section keys in the order they are shown, with the Vietnamese headings residents see.
SECTION_KEYS = ("documents", "fee", "time", "where", "who", "steps", "online", "notes")
SECTION_LABELS = {
    "documents": "Giấy tờ cần mang",
    "fee": "Lệ phí",
    "time": "Thời gian giải quyết",
    "where": "Nơi nộp",
    "who": "Ai được làm, điều kiện",
    "steps": "Các bước",
    "online": "Làm trực tuyến",
    "notes": "Lưu ý",
    # not sections in YAML, but shown the same way on request
    "legal_basis": "Căn cứ pháp lý",
    "sources": "Nguồn tham khảo",
}
SHORT_MAX = 450  # characters of the first reply once placeholders are filled


@dataclass
class Source:
    url: str  # the official page or text a resident or staff member is sent to
    title: str = ""
    checked: date | None = None
    via: str | None = None  # the copy actually read (e.g. a GitHub mirror of the official text)


@dataclass
class Entry:
    id: str
    title: str
    questions: list[str]
    short: str = ""
    sections: dict[str, str] = field(default_factory=dict)  # SECTION_KEYS order, non-empty only
    sources: list[Source] = field(default_factory=list)
    legal_basis: list[str] = field(default_factory=list)
    where: str = "ttpvhcc"
    online: str | None = None
    reviewed: date | None = None
    may_change: bool = False
    source: str = ""  # file it came from, for error messages
    line: int = 0
    legacy_answer: str = ""  # schema v1 `answer`, read only while old files remain

    @property
    def answer(self) -> str:
        """The full text (placeholders unfilled): short, every section under its heading, and the
        legal basis. Kept for `kb export` and channels that show everything at once."""
        parts = [(self.short or self.legacy_answer).strip()]
        for key, text in self.sections.items():
            parts.append(f"{SECTION_LABELS[key]}:\n{text.strip()}")
        if self.legal_basis:
            parts.append(f"{SECTION_LABELS['legal_basis']}:\n" + "\n".join(f"- {x}" for x in self.legal_basis))
        return "\n\n".join(p for p in parts if p)

    def section_keys(self) -> list[str]:
        """Keys render_section can show for this entry, in display order."""
        keys = list(self.sections)
        if self.legal_basis:
            keys.append("legal_basis")
        if self.sources:
            keys.append("sources")
        return keys


class KBError(ValueError):
    pass


def _date(v) -> date | None:
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v.strip())
        except ValueError:
            return None
    return None


def _sources(raw) -> list[Source]:
    out = []
    for s in raw if isinstance(raw, list) else []:
        if isinstance(s, str):
            out.append(Source(url=s.strip()))
        elif isinstance(s, dict) and s.get("url"):
            via = str(s.get("via") or "").strip() or None
            out.append(Source(url=str(s["url"]).strip(), title=str(s.get("title") or "").strip(),
                              checked=_date(s.get("checked")), via=via))
    return out


def _sections(raw) -> dict[str, str]:
    raw = raw if isinstance(raw, dict) else {}
    return {k: str(raw[k]).strip() for k in SECTION_KEYS if raw.get(k) is not None and str(raw[k]).strip()}


def _entry_from(raw: dict, source: str, line: int) -> Entry:
    lb = raw.get("legal_basis") or []
    return Entry(
        id=str(raw.get("id", "")), title=str(raw.get("title", "")),
        questions=[str(q) for q in raw.get("questions") or []],
        short=str(raw.get("short") or "").strip(), sections=_sections(raw.get("sections")),
        sources=_sources(raw.get("sources")),
        legal_basis=[lb] if isinstance(lb, str) else [str(x) for x in lb],
        where=str(raw.get("where", "ttpvhcc")), online=raw.get("online"), reviewed=_date(raw.get("reviewed")),
        may_change=bool(raw.get("may_change", False)), source=source, line=line,
        legacy_answer=str(raw.get("answer") or "").strip(),
    )


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping, so errors can point staff to the place."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(v):
    if isinstance(v, dict):
        return {k: _strip_lines(x) for k, x in v.items() if k != "__line__"}
    if isinstance(v, list):
        return [_strip_lines(x) for x in v]
    return v


def load_raw(kb_dir: Path) -> list[tuple[Path, dict]]:
    """(file, raw entry with __line__) for every entry; raises KBError on unreadable files."""
    out = []
    for path in sorted(Path(kb_dir).glob("*.yaml")):
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
        except yaml.YAMLError as e:
            raise KBError(f"{path}: YAML không hợp lệ: {e}") from e
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
            raise KBError(f"{path}:1: thiếu danh sách 'entries'")
        for raw in doc["entries"]:
            if isinstance(raw, dict):
                line = raw.get("__line__", 0)
                clean = _strip_lines(raw)
                clean["__line__"] = line
                out.append((path, clean))
    return out


class KnowledgeBase:
    def __init__(self, entries: list[Entry]):
        self.entries = entries
        self.by_id = {e.id: e for e in entries}

    @classmethod
    def load(cls, kb_dir: Path) -> "KnowledgeBase":
        entries = []
        for path, raw in load_raw(kb_dir):
            line = raw.pop("__line__", 0)
            entries.append(_entry_from(raw, str(path), line))
        return cls(entries)

    def fingerprint(self) -> str:
        import hashlib
        h = hashlib.sha256()
        for e in self.entries:
            h.update(e.id.encode())
            for q in e.questions:
                h.update(q.encode())
            h.update(e.title.encode())
        return h.hexdigest()[:16]


class _Safe(dict):
    def __missing__(self, key):  # an unknown placeholder stays visible instead of crashing
        return "{" + key + "}"


def fill(text: str, profile: WardProfile) -> str:
    """Placeholders ({centre_address}, ...) replaced by the ward's facts; a stray brace never crashes."""
    try:
        return string.Formatter().vformat(text, (), _Safe(profile.placeholders()))
    except (ValueError, IndexError, KeyError, AttributeError):
        return text


def caution(entry: Entry, profile: WardProfile) -> str:
    """One line for entries whose facts may change: where to confirm before going."""
    if not entry.may_change:
        return ""
    return f"Quy định có thể thay đổi, bạn gọi {profile.centre.phone} để chắc chắn trước khi đi nhé."


def render_short(entry: Entry, profile: WardProfile) -> str:
    """The first reply: the short text filled in (at most SHORT_MAX characters). The caution line
    for entries that may change is `caution()`, shown with the details."""
    return fill(entry.short or entry.legacy_answer, profile).strip()


def render_section(entry: Entry, key: str, profile: WardProfile) -> str | None:
    """One section under its Vietnamese heading, or None when the entry has no such section.
    Keys: SECTION_KEYS, plus "legal_basis" and "sources"."""
    label = SECTION_LABELS.get(key)
    if label is None:
        return None
    if key == "legal_basis":
        body = "\n".join(f"- {x}" for x in entry.legal_basis)
    elif key == "sources":  # residents get the official url; `via` (the mirror read) is for audits
        body = "\n".join(f"- {s.title}: {s.url}" if s.title else f"- {s.url}" for s in entry.sources)
    else:
        body = fill(entry.sections.get(key, ""), profile).strip()
    if not body:
        return None
    return f"{label}:\n{body}"


def render_answer(entry: Entry, profile: WardProfile) -> str:
    """Everything at once (the v1 behaviour): the full answer, review date and caution."""
    text = fill(entry.answer, profile)
    tail = []
    if entry.reviewed:
        tail.append(f"Thông tin cập nhật ngày {entry.reviewed.strftime('%d/%m/%Y')}.")
    if entry.may_change:
        tail.append(caution(entry, profile))
    return text + ("\n\n" + " ".join(tail) if tail else "")


def export_record(e: Entry) -> dict:
    """One `kb export --jsonl` line: what other tools (evaluation, back office, audits) read."""
    return {"id": e.id, "title": e.title, "questions": e.questions, "answer": e.answer, "short": e.short,
            "sections": dict(e.sections), "legal_basis": e.legal_basis,
            "sources": [{"url": s.url, "title": s.title, "checked": s.checked.isoformat() if s.checked else None,
                         "via": s.via} for s in e.sources],
            "where": e.where, "online": e.online,
            "reviewed": e.reviewed.isoformat() if e.reviewed else None, "may_change": e.may_change}
