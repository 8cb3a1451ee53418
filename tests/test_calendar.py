"""The session calendar against the real 2026–2027 Vietnamese calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from profiles.loader import SHIPPED_SITES as SITES
from profiles.loader import load_profile
from profiles.schema import SessionsConfig
from scheduler.calendar import AddedSession, Calendar, Change, Move, Skip, working_days

TZ = dt.timezone(dt.timedelta(hours=7))


def rules(*specs: dict[str, Any], one_off: list[dict[str, Any]] | None = None) -> SessionsConfig:
    return SessionsConfig.model_validate({"rules": list(specs), "one_off": one_off or []})


def rule(
    recurrence: dict[str, Any], shift: str = "next-working-day", **extra: Any
) -> dict[str, Any]:
    return {
        "id": "r",
        "title": "T",
        "recurrence": recurrence,
        "start": "08:00",
        "shift": shift,
        **extra,
    }


def dates(cal: Calendar, first: str = "2026-01-01", last: str = "2027-12-31") -> list[str]:
    return [
        o.start.date().isoformat()
        for o in cal.occurrences(dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    ]


def test_bac_ninh_quarterly_2026_2027_real_dates() -> None:
    p = load_profile(SITES / "bac-ninh.yaml").profile
    cal = Calendar(p.sessions, p.site.timezone)
    occs = cal.occurrences(dt.date(2026, 1, 1), dt.date(2027, 12, 31))
    expected = [
        "2026-03-10", "2026-06-10", "2026-09-10", "2026-12-10",
        "2027-03-10", "2027-06-10", "2027-09-10", "2027-12-10",
    ]  # fmt: skip
    assert [o.start.date().isoformat() for o in occs] == expected
    # all eight are working days (Tue, Wed, Thu, Thu, Wed, Thu, Fri, Fri): none is shifted
    assert [o.start.strftime("%a") for o in occs] == [
        "Tue", "Wed", "Thu", "Thu", "Wed", "Thu", "Fri", "Fri",
    ]  # fmt: skip
    assert all(o.shifted_from is None for o in occs)
    first = occs[0]
    assert first.start == dt.datetime(2026, 3, 10, 8, 0, tzinfo=TZ)
    assert first.start.astimezone(dt.UTC).hour == 1
    assert first.end == dt.datetime(2026, 3, 10, 11, 30, tzinfo=TZ)
    assert first.key == "bi-thu-hang-quy@2026-03-10T08:00:00+07:00"
    # nothing in the first month of a quarter: 2027-01-10 is not a session
    assert dt.date(2027, 1, 10) not in {o.start.date() for o in occs}


def test_quarterly_on_a_weekend_shifts_both_ways() -> None:
    nxt = Calendar(rules(rule({"kind": "quarterly", "day": 5})))
    assert dates(nxt, last="2026-12-31") == ["2026-03-05", "2026-06-05", "2026-09-07", "2026-12-07"]
    shifted = nxt.occurrences(dt.date(2026, 9, 1), dt.date(2026, 9, 30))[0]
    assert shifted.shifted_from == dt.date(2026, 9, 5)  # Saturday
    prev = Calendar(rules(rule({"kind": "quarterly", "day": 5}, "previous-working-day")))
    # 2027-09-05 is a Sunday; the 4th is a Saturday, the 3rd and 2nd are National Day
    assert dates(prev, "2027-07-01", "2027-12-31") == ["2027-09-01", "2027-12-03"]
    keep = Calendar(rules(rule({"kind": "quarterly", "day": 5}, "keep")))
    assert dates(keep, last="2026-12-31") == [
        "2026-03-05",
        "2026-06-05",
        "2026-09-05",
        "2026-12-05",
    ]


def test_quarterly_first_month_of_quarter() -> None:
    cal = Calendar(rules(rule({"kind": "quarterly", "day": 10, "month_of_quarter": 1}, "keep")))
    assert dates(cal, last="2027-01-31") == [
        "2026-01-10", "2026-04-10", "2026-07-10", "2026-10-10", "2027-01-10",
    ]  # fmt: skip


def test_national_day_and_the_substituted_day_off() -> None:
    # 2026-09-02 (Wed) National Day; 09-01 too; 08-31 is the day off swapped from Sat 08-22
    nxt = Calendar(rules(rule({"kind": "quarterly", "day": 2})))
    assert "2026-09-03" in dates(nxt, last="2026-12-31")
    prev = Calendar(rules(rule({"kind": "quarterly", "day": 2}, "previous-working-day")))
    assert "2026-08-28" in dates(prev, last="2026-12-31")
    w = working_days()
    assert w.is_working_day(dt.date(2026, 8, 22))  # the swapped working Saturday
    assert not w.is_working_day(dt.date(2026, 8, 31))


def test_tet_2026_and_2027() -> None:
    nxt = Calendar(rules(rule({"kind": "monthly", "day": 17})))
    feb = nxt.occurrences(dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    # Tết: 16–20 Feb 2026 are holidays, 21–22 the weekend
    assert [o.start.date() for o in feb] == [dt.date(2026, 2, 23)]
    assert feb[0].shifted_from == dt.date(2026, 2, 17)
    assert working_days().holiday_name(dt.date(2026, 2, 17)) == "Lunar New Year"
    prev = Calendar(rules(rule({"kind": "monthly", "day": 17}, "previous-working-day")))
    assert dates(prev, "2026-02-01", "2026-02-28") == ["2026-02-13"]
    tet27 = Calendar(rules(rule({"kind": "monthly", "day": 6})))
    # 2027: 4–10 Feb are Tết holidays (6–7 also a weekend)
    assert dates(tet27, "2027-02-01", "2027-02-28") == ["2027-02-11"]


def test_monthly_day_31_clamps_to_the_last_day() -> None:
    cal = Calendar(rules(rule({"kind": "monthly", "day": 31}, "keep")))
    assert dates(cal, "2026-01-01", "2026-04-30") == [
        "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30",
    ]  # fmt: skip
    assert dates(cal, "2028-02-01", "2028-02-29") == ["2028-02-29"]  # leap year


def test_weekly_and_nth_weekday() -> None:
    weekly = Calendar(rules(rule({"kind": "weekly", "weekday": "mon"}, "keep")))
    assert dates(weekly, "2026-01-01", "2026-01-31") == [
        "2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26",
    ]  # fmt: skip
    second_tue = Calendar(rules(rule({"kind": "nth-weekday", "n": 2, "weekday": "tue"})))
    assert dates(second_tue, "2026-01-01", "2026-03-31") == [
        "2026-01-13",
        "2026-02-10",
        "2026-03-10",
    ]
    last_fri = Calendar(rules(rule({"kind": "nth-weekday", "n": -1, "weekday": "fri"}, "keep")))
    assert dates(last_fri, "2026-01-01", "2026-03-31") == ["2026-01-30", "2026-02-27", "2026-03-27"]
    fifth_mon = Calendar(rules(rule({"kind": "nth-weekday", "n": 5, "weekday": "mon"}, "keep")))
    # February 2026 has four Mondays: no session that month
    assert dates(fifth_mon, "2026-01-01", "2026-03-31") == ["2026-03-30"]


def test_weekly_saturday_is_kept_on_a_swapped_working_saturday() -> None:
    cal = Calendar(rules(rule({"kind": "weekly", "weekday": "sat"})))
    occs = cal.occurrences(dt.date(2026, 8, 17), dt.date(2026, 8, 23))
    # Sat 15 Aug is off and moves to Mon 17; Sat 22 Aug is a working day and stays
    assert [(o.start.date().isoformat(), o.shifted_from) for o in occs] == [
        ("2026-08-17", dt.date(2026, 8, 15)),
        ("2026-08-22", None),
    ]


def test_valid_from_and_until() -> None:
    cal = Calendar(
        rules(
            rule(
                {"kind": "monthly", "day": 10},
                "keep",
                valid_from="2026-03-01",
                valid_until="2026-05-31",
            )
        )
    )
    assert dates(cal) == ["2026-03-10", "2026-04-10", "2026-05-10"]


def test_skip_and_move_exceptions() -> None:
    p = load_profile(SITES / "bac-ninh.yaml").profile
    rid = "bi-thu-hang-quy"
    changes: list[Change] = [
        Skip(rid, dt.date(2026, 6, 10)),
        Move(rid, dt.date(2026, 9, 10), dt.date(2026, 9, 11), dt.time(14, 0)),
        Move(rid, dt.date(2026, 12, 10), dt.date(2027, 2, 25)),  # far: outside the month
    ]
    cal = Calendar(p.sessions, p.site.timezone, changes)
    occs = cal.occurrences(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert [o.start.isoformat() for o in occs] == [
        "2026-03-10T08:00:00+07:00",
        "2026-09-11T14:00:00+07:00",
    ]
    moved = occs[1]
    assert moved.moved
    assert moved.shifted_from == dt.date(2026, 9, 10)
    assert moved.end - moved.start == dt.timedelta(hours=3, minutes=30)
    feb = cal.occurrences(dt.date(2027, 2, 1), dt.date(2027, 2, 28))
    assert [o.start.isoformat() for o in feb] == ["2027-02-25T08:00:00+07:00"]
    # an occurrence is found by its nominal or its actual date
    assert cal.find_rule_occurrence(rid, dt.date(2026, 9, 11))[0] == dt.date(2026, 9, 10)
    with pytest.raises(KeyError, match="already skipped"):
        cal.find_rule_occurrence(rid, dt.date(2026, 6, 10))
    with pytest.raises(KeyError, match="no session"):
        cal.find_rule_occurrence(rid, dt.date(2026, 6, 11))


def test_one_off_sessions_from_profile_and_added() -> None:
    sessions = rules(
        one_off=[
            {
                "id": "tong-duyet",
                "title": "Tổng duyệt",
                "date": "2026-03-05",
                "start": "14:00",
                "duration": "1h",
            }
        ]
    )
    cal = Calendar(
        sessions,
        changes=[AddedSession("them", "Thêm", dt.date(2026, 3, 6), dt.time(9, 30), 5400)],
    )
    occs = cal.occurrences(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert [(o.session_id, o.kind, o.start.hour, o.end.hour) for o in occs] == [
        ("tong-duyet", "one-off", 14, 15),
        ("them", "added", 9, 11),
    ]


def test_upcoming_skips_ended_sessions() -> None:
    p = load_profile(SITES / "bac-ninh.yaml").profile
    cal = Calendar(p.sessions, p.site.timezone)
    during = dt.datetime(2026, 3, 10, 9, 0, tzinfo=TZ)
    assert [o.start.date() for o in cal.upcoming(during, count=2)] == [
        dt.date(2026, 3, 10),
        dt.date(2026, 6, 10),
    ]
    after = dt.datetime(2026, 3, 10, 11, 30, tzinfo=TZ)
    assert cal.upcoming(after)[0].start.date() == dt.date(2026, 6, 10)
