"""Sanity checks on schedule input from the command line (docs/scheduler.md, "Changes").

A session in the past or a move into the past (unless forced with a reason), a duration outside
the profile's limits (default 5 min … 12 h) and a date beyond the calendar's horizon are
refused; a session that overlaps another is allowed with a warning. Free text (titles,
reasons) loses its control characters before it is stored, and `printable` shows any that an
older version stored as visible escapes, so a title can never drive the technician's terminal.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from profiles.common import parse_duration
from profiles.schema import SessionLimits
from scheduler.calendar import Occurrence

#: bidirectional overrides and isolates reorder what a terminal shows (CVE-2021-42574)
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


class ScheduleInputError(ValueError):
    """A schedule change that is refused, with what to do instead."""


@dataclass(frozen=True)
class Limits:
    min_duration_s: int
    max_duration_s: int
    horizon_days: int

    @classmethod
    def of(cls, limits: SessionLimits) -> Limits:
        return cls(
            parse_duration(limits.min_duration),
            parse_duration(limits.max_duration),
            limits.horizon_days,
        )


def clean_text(text: str) -> str:
    """`text` without control characters (C0, C1, DEL) and bidi overrides; tabs and newlines
    become spaces; surrounding space is trimmed."""
    out = []
    for ch in text:
        if ch in "\t\n\r":
            out.append(" ")
        elif unicodedata.category(ch) == "Cc" or ch in _BIDI:
            continue
        else:
            out.append(ch)
    return "".join(out).strip()


def printable(text: str) -> str:
    """`text` with every control character shown as an escape (\\x1b), for terminal output."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) == "Cc" or ch in _BIDI
        else ch
        for ch in text
    )


def check_duration(seconds: int, limits: Limits) -> None:
    if not limits.min_duration_s <= seconds <= limits.max_duration_s:
        raise ScheduleInputError(
            f"a session lasts {_human(limits.min_duration_s)} to {_human(limits.max_duration_s)}"
            f", not {_human(seconds)} (limits: sessions.limits in the profile)"
        )


def check_start(
    start: dt.datetime,
    now: dt.datetime,
    limits: Limits,
    *,
    force: bool = False,
    reason: str = "",
    what: str = "the session",
) -> None:
    """Refuse a start in the past (unless forced with a reason) or beyond the horizon."""
    horizon = now.date() + dt.timedelta(days=limits.horizon_days)
    if start.date() > horizon:
        raise ScheduleInputError(
            f"{what} would start on {start.date()}, beyond the calendar's horizon ({horizon}, "
            f"{limits.horizon_days} days ahead; sessions.limits.horizon_days in the profile)"
        )
    if start < now:
        if not force:
            raise ScheduleInputError(
                f"{what} would start at {start:%Y-%m-%d %H:%M}, which is in the past "
                f"(now {now:%Y-%m-%d %H:%M}); check the date, or add --force --reason '…' "
                "to record it anyway"
            )
        if not reason.strip():
            raise ScheduleInputError("--force needs --reason saying why")


def overlaps(
    start: dt.datetime, end: dt.datetime, others: Iterable[Occurrence], *, ignore: str = ""
) -> list[Occurrence]:
    """The occurrences (other than `ignore`) whose time overlaps [start, end)."""
    return [o for o in others if o.session_id != ignore and o.start < end and start < o.end]


def _human(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m = rest // 60
    if h and m:
        return f"{h} h {m} min"
    return f"{h} h" if h else f"{m} min" if m else f"{seconds} s"
