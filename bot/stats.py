"""Figures other features contribute to the teams' quarterly report, without importing each other.

A provider is fn(session, start, end, group_code | None) -> dict[str, int | float], where start
and end are aware datetimes (end exclusive) and group_code None means the whole ward. Reports
contribute e.g. {"reports_received", "reports_resolved", "reports_overdue"}; classes contribute
e.g. {"classes_held", "class_attendance"}.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlmodel import Session

Provider = Callable[[Session, datetime, datetime, "str | None"], dict]
PROVIDERS: dict[str, Provider] = {}
LABELS: dict[str, str] = {}  # figure key -> Vietnamese column label


def register_stats(name: str, fn: Provider, labels: dict[str, str] | None = None) -> None:
    PROVIDERS[name] = fn
    LABELS.update(labels or {})


def collect(session: Session, start: datetime, end: datetime, group_code: str | None = None) -> dict:
    out: dict = {}
    for fn in PROVIDERS.values():
        out.update(fn(session, start, end, group_code))
    return out
