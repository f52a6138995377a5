"""How staff see a person: the name they gave us, else their channel's display name, and only as
a last resort a number ("Người dân #96"). One place, so report cards, back-office pages, team
lists, class lists and the XLSX sheets agree."""
from __future__ import annotations

from typing import Iterable

from sqlmodel import Session

from bot.models import Person

MAX_LABEL = 120


def person_label(p: Person | None, fallback: str = "Người dân", person_id: int | None = None) -> str:
    """`fallback` names the role in the last resort: "Thành viên #93", "Cán bộ #4"."""
    if p is None:
        return f"{fallback} #{person_id}" if person_id else "(không rõ)"
    name = " ".join((p.full_name or p.display_name or "").split())
    return name[:MAX_LABEL] if name else f"{fallback} #{p.id}"


def labels(session: Session, ids: Iterable[int | None], fallback: str = "Người dân") -> dict[int, str]:
    """person id -> label, for the ids that still exist."""
    out = {}
    for i in {i for i in ids if i}:
        p = session.get(Person, i)
        if p is not None:
            out[i] = person_label(p, fallback)
    return out


def clean_full_name(text: str) -> str | None:
    """A typed full name, tidied ("nguyễn thị  hoa" -> "Nguyễn Thị Hoa"), or None when it does not
    look like one (digits, a question, a sentence)."""
    words = (text or "").replace("\x00", "").split()
    if not 1 <= len(words) <= 7 or any(ch.isdigit() or ch in "?/@#:;!()[]{}<>=+*&%$" for w in words for ch in w):
        return None
    name = " ".join(w[:1].upper() + w[1:] for w in words)
    return name if 2 <= len(name) <= MAX_LABEL else None
