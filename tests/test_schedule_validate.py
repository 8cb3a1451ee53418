"""Property tests of schedule input: whatever a technician types, the checks either refuse it
with a ScheduleInputError or accept only what the rules allow; text never keeps a control
character."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scheduler.validate import (
    Limits,
    ScheduleInputError,
    check_duration,
    check_start,
    clean_text,
    printable,
)

BAC_NINH = Path(__file__).resolve().parent.parent / "profiles" / "sites" / "bac-ninh.yaml"
LIMITS = Limits(min_duration_s=300, max_duration_s=12 * 3600, horizon_days=730)
TZ = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 11, 30, 11, 0, tzinfo=TZ)
starts = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(TZ)
)


@given(st.text())
def test_clean_text_has_no_control_characters_and_is_stable(text: str) -> None:
    out = clean_text(text)
    assert not any(unicodedata.category(c) == "Cc" for c in out)
    assert "\u202e" not in out
    assert clean_text(out) == out


@given(st.text())
def test_printable_never_lets_an_escape_through(text: str) -> None:
    out = printable(text)
    assert "\x1b" not in out
    assert not any(unicodedata.category(c) == "Cc" for c in out)


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_durations_outside_the_limits_are_refused(seconds: int) -> None:
    try:
        check_duration(seconds, LIMITS)
    except ScheduleInputError:
        assert not LIMITS.min_duration_s <= seconds <= LIMITS.max_duration_s
    else:
        assert LIMITS.min_duration_s <= seconds <= LIMITS.max_duration_s


@given(starts, st.booleans(), st.text(max_size=20))
def test_a_start_is_accepted_only_in_the_future_within_the_horizon_or_forced_with_a_reason(
    start: dt.datetime, force: bool, reason: str
) -> None:
    try:
        check_start(start, NOW, LIMITS, force=force, reason=reason)
    except ScheduleInputError:
        return
    assert start.date() <= NOW.date() + dt.timedelta(days=LIMITS.horizon_days)
    assert start >= NOW or (force and reason.strip())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    date=st.one_of(
        st.dates(  # mostly near today, where both refusals and acceptances happen
            min_value=dt.date.today() - dt.timedelta(days=30),
            max_value=dt.date.today() + dt.timedelta(days=800),
        ).map(dt.date.isoformat),
        st.dates(
            min_value=dt.date.today() + dt.timedelta(days=1),
            max_value=dt.date.today() + dt.timedelta(days=700),
        ).map(dt.date.isoformat),
        st.dates().map(dt.date.isoformat),
        st.text(max_size=12),
    ),
    start=st.one_of(*[st.times().map(lambda t: t.strftime("%H:%M"))] * 3, st.text(max_size=6)),
    duration=st.one_of(
        *[st.integers(min_value=0, max_value=900).map(lambda m: f"{m}m")] * 3,
        st.integers(min_value=0, max_value=10**6).map(lambda m: f"{m}m"),
        st.text(max_size=6),
    ),
    title=st.one_of(st.text(min_size=1, max_size=30), st.text(max_size=30)),
)
def test_schedule_add_never_crashes_and_stores_only_clean_valid_sessions(
    tmp_path_factory: pytest.TempPathFactory, date: str, start: str, duration: str, title: str
) -> None:
    import json

    from typer.testing import CliRunner

    from cli import app

    state = tmp_path_factory.mktemp("prop")
    args = ["--state-dir", str(state), "--profile", str(BAC_NINH), "--json", "schedule", "add"]
    args += ["phien-thu", date, start, "--title", title, "--duration", duration]
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1, 3), result.output
    event(f"exit {result.exit_code}")
    if result.exit_code in (0, 1):
        change = json.loads(result.stdout)["change"]
        assert not any(unicodedata.category(c) == "Cc" for c in change["title"])
        assert 300 <= change["duration_s"] <= 12 * 3600
        begin = dt.datetime.fromisoformat(f"{change['date']}T{change['start']}").replace(
            tzinfo=dt.timezone(dt.timedelta(hours=7))
        )
        assert begin >= dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
