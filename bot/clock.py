"""One source of "now", so tests can run a simulated clock through reminders and deadlines."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.config import LOCAL_TZ

TZ = ZoneInfo(LOCAL_TZ)


class Clock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def local(self) -> datetime:
        return self.now().astimezone(TZ)


class FakeClock(Clock):
    def __init__(self, start: datetime):
        if start.tzinfo is None:
            start = start.replace(tzinfo=TZ)
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=TZ)
        self._now = when.astimezone(timezone.utc)

    def advance(self, **kw) -> None:
        self._now += timedelta(**kw)


def to_local(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(TZ)


def fmt_local(dt: datetime, with_time: bool = True) -> str:
    d = to_local(dt)
    return d.strftime("%H:%M %d/%m/%Y") if with_time else d.strftime("%d/%m/%Y")


# Office hours as residents read them: a deadline outside them is shown as the end of a day.
DAY_START, DAY_END = 7, 17


def fmt_deadline(dt: datetime) -> str:
    """A deadline as residents read it: "trước 10:30 02/12/2026" within office hours; otherwise
    the day it falls in, "trong ngày 02/12/2026" (for 23:00; for 02:00, the day before), not a
    time of night nobody works at."""
    d = to_local(dt)
    if DAY_START <= d.hour < DAY_END or (d.hour == DAY_END and d.minute == 0):
        return d.strftime("trước %H:%M %d/%m/%Y")
    if d.hour < DAY_START:
        d -= timedelta(days=1)
    return d.strftime("trong ngày %d/%m/%Y")
