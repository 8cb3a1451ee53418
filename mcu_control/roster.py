"""Which points a session joins: the roster of a rule, a one-off or an added session.

The orchestrator's callers (CLI `drill/bringup --session`, the scheduler's actions, the feed's
"next session") resolve a session's roster here and pass plain point ids on; the resolution
rules themselves are in profiles/roster.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devices.errors import ConfigError
from mcu_control.state import SessionLink, SessionPhase, SessionState
from profiles import roster
from scheduler.calendar import AddedSession

if TYPE_CHECKING:
    import datetime as dt

    from profiles.loader import LoadedProfile
    from profiles.schema import Profile
    from scheduler.calendar import Calendar, Change, Occurrence
    from scheduler.db import ScheduleDb

log = logging.getLogger("mcu_control.roster")


@dataclass(frozen=True, slots=True)
class SessionRoster:
    """A session, the names its roster gives and the point ids they resolve to."""

    session_id: str
    title: str
    names: tuple[str, ...]
    points: tuple[str, ...]
    national: bool = False  # the session joins the national reception office (`upstream`)


def occurrence_points(profile: Profile, occ: Occurrence) -> tuple[str, ...]:
    """The point ids of a scheduled occurrence, in roster order (unknown names are logged)."""
    found = roster.resolve(profile, occ.roster)
    if found.unknown:
        # an added session outlived a group or point removed from the profile since
        log.warning(
            "session %s: no point or group %s in the profile any more; going on without",
            occ.key,
            ", ".join(found.unknown),
        )
    return found.points


def session_roster(
    profile: Profile, session_id: str, changes: Sequence[Change] = ()
) -> SessionRoster:
    """The roster of a profile rule or one-off, or of a session added with `schedule add`.

    Raises ConfigError (exit 3) naming the known sessions when `session_id` is none of them,
    or naming the unknown points/groups of an added session's roster.
    """
    names: tuple[str, ...] | None = None
    title = ""
    national = False
    for rule in profile.sessions.rules:
        if rule.id == session_id:
            names, title, national = tuple(rule.roster), rule.title, rule.national
    for one in profile.sessions.one_off:
        if one.id == session_id:
            names, title, national = tuple(one.roster), one.title, one.national
    for change in changes:
        if isinstance(change, AddedSession) and change.session_id == session_id:
            names, title, national = change.roster, change.title, change.national
    if names is None:
        known = [r.id for r in profile.sessions.rules] + [s.id for s in profile.sessions.one_off]
        known += [c.session_id for c in changes if isinstance(c, AddedSession)]
        raise ConfigError(
            f"no session {session_id!r}",
            hint=f"sessions are: {', '.join(known) or 'none'} (see `schedule list`)",
        )
    found = roster.resolve(profile, names)
    if found.unknown:
        raise ConfigError(
            f"session {session_id!r} names no point or group {', '.join(found.unknown)}",
            hint=f"a roster names {roster.describe_names(profile)}",
        )
    return SessionRoster(session_id, title, names, found.points, national)


def stored_session_roster(profile: Profile, session_id: str, db: ScheduleDb) -> SessionRoster:
    """`session_roster` over the profile's sessions and those `schedule add` stored in `db`.

    What `drill/bringup --session ID` and the MQTT commands' `session` parameter resolve.
    """
    return session_roster(profile, session_id, [r.change for r in db.changes()])


def check_names(profile: Profile, points: Sequence[str], groups: Sequence[str]) -> tuple[str, ...]:
    """Roster names from `--points` and `--groups`, each checked against the profile."""
    ids = {p.id for p in profile.points}
    known_groups = roster.groups(profile)
    bad = [f"point {p!r}" for p in points if p not in ids]
    bad += [f"group {g!r}" for g in groups if g not in known_groups and g != roster.ALL]
    if bad:
        raise ConfigError(
            f"unknown {', '.join(bad)}", hint=f"a roster names {roster.describe_names(profile)}"
        )
    return tuple(dict.fromkeys([*points, *groups])) or (roster.ALL,)


def planned_links(
    profile: Profile, models: Mapping[str, Any], points: Sequence[str], *, national: bool
) -> tuple[SessionLink, ...]:
    """The session's links as planned, before any is dialled (phase `planned`).

    One cascade link per secondary MCU the roster is placed on (profiles/placement.py), then
    the national link when the session is national and the profile has an `upstream`.
    """
    from profiles.placement import place_roster

    cascades: list[str] = []
    if profile.mcus:
        upstream = national and profile.upstream is not None
        cascades = place_roster(profile, models, points, upstream=upstream).cascades
    return session_links(profile, cascades, national=national)


def session_links(
    profile: Profile, cascades: Sequence[str], *, national: bool
) -> tuple[SessionLink, ...]:
    """The links of a session placed with these secondaries: the ids, names and order the
    bring-up (mcu_control/bringup.py) dials and the panels show."""
    from profiles.naming import UPSTREAM_PARTICIPANT, cascade_name, name_limit

    limit = name_limit(profile.mcu.driver)
    names = {m.id: m.name for m in profile.mcus}
    links = [SessionLink(cascade_name(m, limit), "cascade", names[m], mcu=m) for m in cascades]
    if national and profile.upstream is not None:
        links.append(SessionLink(UPSTREAM_PARTICIPANT, "upstream", profile.upstream.name))
    return tuple(links)


def announced_session(
    loaded: LoadedProfile,
    occ: Occurrence,
    phase: SessionPhase = SessionPhase.IDLE,
    *,
    recording: bool = False,
) -> SessionState:
    """The session state announcing `occ`: its roster, national flag and planned links."""
    points = occurrence_points(loaded.profile, occ)
    national = occ.national and loaded.profile.upstream is not None
    return SessionState(
        phase,
        occ.key,
        occ.title,
        occ.start,
        occ.end,
        recording,
        points,
        national=national,
        links=planned_links(loaded.profile, loaded.models, points, national=national),
    )


def next_session(
    loaded: LoadedProfile, calendar: Calendar, now: dt.datetime
) -> SessionState | None:
    """The idle session state announcing the next occurrence and its roster (None: none)."""
    upcoming = calendar.upcoming(now, days=400)  # sessions are at least yearly
    if not upcoming:
        return None
    return announced_session(loaded, upcoming[0])
