"""The session calendar: recurrence rules, Vietnamese holidays, one-off sessions and exceptions.

Rules give *nominal* dates (the 10th of the last month of each quarter); the shift policy moves
a nominal date that is not a working day (weekend or public holiday, Tết included) to the next
or previous working day. A rule day past the end of a month (31 in a 30-day month, 30 in
February) is clamped to the month's last day: a session "on the 31st" means "at month end".
Exceptions (skip, move) name an occurrence by its rule and nominal date.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from profiles.common import parse_duration
from profiles.schema import (
    DEFAULT_TIMEZONE,
    MonthlyRule,
    NthWeekdayRule,
    QuarterlyRule,
    SessionRule,
    SessionsConfig,
    WeeklyRule,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OccurrenceKind = Literal["rule", "one-off", "added"]


@dataclass(frozen=True)
class Occurrence:
    """One session on one day: what the plan schedules and the actions receive."""

    session_id: str
    title: str
    start: dt.datetime  # aware, in the site's timezone
    end: dt.datetime
    rule_id: str | None = None
    shifted_from: dt.date | None = None  # the nominal date, when the policy or a move changed it
    kind: OccurrenceKind = "rule"
    moved: bool = False
    roster: tuple[str, ...] = ("all",)  # names: `all`, groups, point ids (profiles/roster.py)
    national: bool = False  # joins the national reception office (profile `upstream`)

    @property
    def key(self) -> str:
        """Stable id of this occurrence: `<session>@<local start iso>`."""
        return f"{self.session_id}@{self.start.isoformat()}"

    @property
    def nominal_date(self) -> dt.date:
        return self.shifted_from or self.start.date()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "session_id": self.session_id,
            "title": self.title,
            "kind": self.kind,
            "rule_id": self.rule_id,
            "date": self.start.date().isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "duration_s": int((self.end - self.start).total_seconds()),
            "shifted_from": self.shifted_from.isoformat() if self.shifted_from else None,
            "moved": self.moved,
            "roster": list(self.roster),
            "national": self.national,
        }


@dataclass(frozen=True)
class AddedSession:
    """A one-off session added from the command line (not in the profile)."""

    session_id: str
    title: str
    date: dt.date
    start: dt.time
    duration_s: int
    roster: tuple[str, ...] = ("all",)  # names: `all`, groups, point ids (profiles/roster.py)
    national: bool = False  # joins the national reception office (profile `upstream`)


@dataclass(frozen=True)
class Skip:
    """Cancel the occurrence of `session_id` whose nominal date is `date`."""

    session_id: str
    date: dt.date


@dataclass(frozen=True)
class Move:
    """Hold the occurrence of `session_id` (nominal `date`) on `new_date` at `new_start`."""

    session_id: str
    date: dt.date
    new_date: dt.date
    new_start: dt.time | None = None  # None: keep the rule's start time


Change = AddedSession | Skip | Move


class WorkingDays:
    """Vietnamese working days: Monday–Friday, minus public holidays, plus swapped Saturdays."""

    def __init__(self, country: str = "VN") -> None:
        import holidays

        # expand=True (the default) loads each year's table on first use
        self._calendar = holidays.country_holidays(country)

    def is_working_day(self, day: dt.date) -> bool:
        return bool(self._calendar.is_working_day(day))

    def holiday_name(self, day: dt.date) -> str | None:
        name = self._calendar.get(day)
        return str(name) if name else None

    def shift(self, day: dt.date, policy: str) -> dt.date:
        """Apply a shift policy: next-working-day, previous-working-day or keep."""
        if policy == "keep":
            return day
        step = dt.timedelta(days=1 if policy == "next-working-day" else -1)
        while not self.is_working_day(day):
            day += step
        return day


_WORKING_DAYS: WorkingDays | None = None


def working_days() -> WorkingDays:
    """The process-wide Vietnamese calendar (holiday tables are built once per year)."""
    global _WORKING_DAYS  # noqa: PLW0603 — a cache
    if _WORKING_DAYS is None:
        _WORKING_DAYS = WorkingDays()
    return _WORKING_DAYS


@dataclass
class Calendar:
    """Expands the profile's sessions plus the persisted changes into dated occurrences."""

    sessions: SessionsConfig
    timezone: str = DEFAULT_TIMEZONE
    changes: Sequence[Change] = ()
    workdays: WorkingDays = field(default_factory=working_days)

    def __post_init__(self) -> None:
        self.tz = zoneinfo.ZoneInfo(self.timezone)
        self._skips = {(c.session_id, c.date) for c in self.changes if isinstance(c, Skip)}
        self._moves = {(c.session_id, c.date): c for c in self.changes if isinstance(c, Move)}
        self._rules = {r.id: r for r in self.sessions.rules}

    def occurrences(self, first: dt.date, last: dt.date) -> list[Occurrence]:
        """Every occurrence whose (local) date is in [first, last], sorted by start."""
        found: list[Occurrence] = []
        margin = dt.timedelta(days=31)  # shifts cross the window's edges by a few days at most
        for rule in self.sessions.rules:
            for nominal in nominal_dates(rule, first - margin, last + margin):
                occ = self.rule_occurrence(rule, nominal)
                if occ is not None and first <= occ.start.date() <= last:
                    found.append(occ)
        for move in self._moves.values():
            moved_rule = self._rules.get(move.session_id)
            if moved_rule is None or not first <= move.new_date <= last:
                continue
            if first - margin <= move.date <= last + margin:
                continue  # already produced above
            if move.date in set(nominal_dates(moved_rule, move.date, move.date)):
                occ = self.rule_occurrence(moved_rule, move.date)
                if occ is not None:
                    found.append(occ)
        found.extend(
            self._make(
                one.id,
                one.title,
                one.date,
                one.start,
                parse_duration(one.duration),
                roster=tuple(one.roster),
                national=one.national,
            )
            for one in self.sessions.one_off
            if first <= one.date <= last
        )
        found.extend(
            self._make(
                c.session_id,
                c.title,
                c.date,
                c.start,
                c.duration_s,
                kind="added",
                roster=c.roster,
                national=c.national,
            )
            for c in self.changes
            if isinstance(c, AddedSession) and first <= c.date <= last
        )
        return sorted(found, key=lambda o: (o.start, o.session_id))

    def upcoming(self, after: dt.datetime, *, count: int = 1, days: int = 800) -> list[Occurrence]:
        """The next `count` occurrences that have not ended at `after`."""
        local = after.astimezone(self.tz).date()
        result = [
            o
            for o in self.occurrences(local - dt.timedelta(days=1), local + dt.timedelta(days=days))
            if o.end > after
        ]
        return result[:count]

    def rule_occurrence(self, rule: SessionRule, nominal: dt.date) -> Occurrence | None:
        """The occurrence of `rule` for a nominal date after the shift policy, skips and moves."""
        if (rule.id, nominal) in self._skips:
            return None
        move = self._moves.get((rule.id, nominal))
        duration = parse_duration(rule.duration)
        if move is not None:
            return self._make(
                rule.id,
                rule.title,
                move.new_date,
                move.new_start or rule.start,
                duration,
                rule_id=rule.id,
                shifted_from=nominal,
                moved=True,
                roster=tuple(rule.roster),
                national=rule.national,
            )
        actual = self.workdays.shift(nominal, rule.shift)
        return self._make(
            rule.id,
            rule.title,
            actual,
            rule.start,
            duration,
            rule_id=rule.id,
            shifted_from=nominal if actual != nominal else None,
            roster=tuple(rule.roster),
            national=rule.national,
        )

    def find_rule_occurrence(self, rule_id: str, day: dt.date) -> tuple[dt.date, Occurrence]:
        """The nominal date and occurrence of `rule_id` that falls (or was due) on `day`."""
        rule = self._rules.get(rule_id)
        if rule is None:
            known = ", ".join(self._rules) or "none"
            raise KeyError(f"no session rule {rule_id!r} in the profile (rules: {known})")
        margin = dt.timedelta(days=31)
        for nominal in nominal_dates(rule, day - margin, day + margin):
            occ = self.rule_occurrence(rule, nominal)
            if nominal == day or (occ is not None and occ.start.date() == day):
                if occ is None:
                    raise KeyError(f"the {rule_id} session of {nominal} is already skipped")
                return nominal, occ
        raise KeyError(f"rule {rule_id!r} has no session on {day.isoformat()}")

    def _make(
        self,
        session_id: str,
        title: str,
        day: dt.date,
        start: dt.time,
        duration_s: int,
        *,
        rule_id: str | None = None,
        shifted_from: dt.date | None = None,
        kind: OccurrenceKind | None = None,
        moved: bool = False,
        roster: tuple[str, ...] = ("all",),
        national: bool = False,
    ) -> Occurrence:
        begin = dt.datetime.combine(day, start.replace(tzinfo=None), tzinfo=self.tz)
        return Occurrence(
            session_id=session_id,
            title=title,
            start=begin,
            end=begin + dt.timedelta(seconds=duration_s),
            rule_id=rule_id,
            shifted_from=shifted_from,
            kind=kind or ("rule" if rule_id else "one-off"),
            moved=moved,
            roster=roster,
            national=national,
        )


def nominal_dates(rule: SessionRule, first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """The rule's dates in [first, last] before any shift, honouring valid_from/valid_until."""
    lo = max(first, rule.valid_from) if rule.valid_from else first
    hi = min(last, rule.valid_until) if rule.valid_until else last
    if lo > hi:
        return
    rec = rule.recurrence
    if isinstance(rec, WeeklyRule):
        wd = WEEKDAYS.index(rec.weekday)
        day = lo + dt.timedelta(days=(wd - lo.weekday()) % 7)
        while day <= hi:
            yield day
            day += dt.timedelta(days=7)
        return
    for year, month in _months(lo, hi):
        day_or_none = _month_day(rec, year, month)
        if day_or_none is not None and lo <= day_or_none <= hi:
            yield day_or_none


def _months(lo: dt.date, hi: dt.date) -> Iterable[tuple[int, int]]:
    year, month = lo.year, lo.month
    while (year, month) <= (hi.year, hi.month):
        yield year, month
        month += 1
        if month == 13:
            year, month = year + 1, 1


def _month_day(
    rec: QuarterlyRule | MonthlyRule | NthWeekdayRule, year: int, month: int
) -> dt.date | None:
    days_in_month = _cal.monthrange(year, month)[1]
    if isinstance(rec, QuarterlyRule):
        if (month - 1) % 3 + 1 != rec.month_of_quarter:
            return None
        return dt.date(year, month, min(rec.day, days_in_month))
    if isinstance(rec, MonthlyRule):
        return dt.date(year, month, min(rec.day, days_in_month))
    wd = WEEKDAYS.index(rec.weekday)
    if rec.n > 0:
        first = dt.date(year, month, 1)
        day = first + dt.timedelta(days=(wd - first.weekday()) % 7 + 7 * (rec.n - 1))
        return day if day.month == month else None  # e.g. no 5th Monday this month
    last = dt.date(year, month, days_in_month)
    return last - dt.timedelta(days=(last.weekday() - wd) % 7)
