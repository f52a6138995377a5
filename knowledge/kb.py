"""Load the staff-edited knowledge base and render answers with the ward's own facts."""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from bot.profile import WardProfile

WHERE_LABELS = {"ttpvhcc": "centre", "conganphuong": "police", "online": "online"}


@dataclass
class Entry:
    id: str
    title: str
    questions: list[str]
    answer: str
    legal_basis: list[str] = field(default_factory=list)
    where: str = "ttpvhcc"
    online: str | None = None
    reviewed: date | None = None
    may_change: bool = False
    source: str = ""  # file it came from, for error messages
    line: int = 0


class KBError(ValueError):
    pass


def _entry_from(raw: dict, source: str, line: int) -> Entry:
    reviewed = raw.get("reviewed")
    if isinstance(reviewed, str):
        reviewed = date.fromisoformat(reviewed)
    lb = raw.get("legal_basis") or []
    return Entry(
        id=str(raw.get("id", "")), title=str(raw.get("title", "")),
        questions=[str(q) for q in raw.get("questions") or []], answer=str(raw.get("answer", "")).strip(),
        legal_basis=[lb] if isinstance(lb, str) else [str(x) for x in lb],
        where=str(raw.get("where", "ttpvhcc")), online=raw.get("online"), reviewed=reviewed,
        may_change=bool(raw.get("may_change", False)), source=source, line=line,
    )


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping, so errors can point staff to the place."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


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
                out.append((path, raw))
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


def render_answer(entry: Entry, profile: WardProfile) -> str:
    text = string.Formatter().vformat(entry.answer, (), _Safe(profile.placeholders()))
    tail = []
    if entry.legal_basis:
        tail.append("Căn cứ: " + "; ".join(entry.legal_basis) + ".")
    if entry.reviewed:
        tail.append(f"Thông tin cập nhật ngày {entry.reviewed.strftime('%d/%m/%Y')}.")
    if entry.may_change:
        tail.append(f"Quy định có thể đã thay đổi, bạn nên hỏi lại {profile.centre.name} "
                    f"({profile.centre.phone}) trước khi đi.")
    return text + ("\n\n" + " ".join(tail) if tail else "")
