"""Session rosters: which points join a session, from `all`, group names and point ids.

A roster is a list of names. `all` is every point of the site; a group name (a point's
`groups:`) is the points of that group in profile order; anything else is a point id. The
resolved roster is in *roster order*: the central point first (it hosts the MCU and always
joins), then each name in turn, every point once. Capacity planning keeps a prefix of this
order when a roster does not fit (profiles/placement.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from profiles.schema import Profile

ALL = "all"


@dataclass(frozen=True, slots=True)
class Resolved:
    """A roster's point ids in roster order, and the names that matched nothing."""

    points: tuple[str, ...]
    unknown: tuple[str, ...] = ()


def groups(profile: Profile) -> dict[str, list[str]]:
    """Group name -> its point ids, in profile order."""
    found: dict[str, list[str]] = {}
    for point in profile.points:
        for g in point.groups:
            found.setdefault(g, []).append(point.id)
    return found


def resolve(profile: Profile, names: Sequence[str] | None) -> Resolved:
    """The points a roster names (None or empty: every point), central first, each once."""
    if not names:
        names = [ALL]
    by_group = groups(profile)
    ids = [p.id for p in profile.points]
    known = set(ids)
    out: dict[str, None] = {profile.central.id: None}  # an ordered set
    unknown: list[str] = []
    for name in names:
        if name == ALL:
            out |= dict.fromkeys(ids)
        elif name in by_group:
            out |= dict.fromkeys(by_group[name])
        elif name in known:
            out[name] = None
        else:
            unknown.append(name)
    return Resolved(tuple(out), tuple(unknown))


def describe_names(profile: Profile, limit: int = 12) -> str:
    """`groups: a, b; points: x, y, … (N)` — what a roster may name, for error messages."""
    gs = sorted(groups(profile))
    ids = [p.id for p in profile.points]
    shown = ", ".join(ids[:limit]) + (f", … ({len(ids)} points)" if len(ids) > limit else "")
    return f"`all`; groups: {', '.join(gs) or 'none'}; points: {shown}"


def problems(profile: Profile) -> list[tuple[str, str]]:
    """(dotted path, message) for every roster or group name that cannot be used."""
    found: list[tuple[str, str]] = []
    ids = {p.id for p in profile.points}
    for pi, point in enumerate(profile.points):
        if point.id == ALL:
            found.append((f"points[{pi}].id", "`all` is reserved for rosters; rename the point"))
        for gi, g in enumerate(point.groups):
            where = f"points[{pi}].groups[{gi}]"
            if g == ALL:
                found.append((where, "`all` is reserved for rosters; rename the group"))
            elif g in ids:
                found.append(
                    (where, f"group {g!r} has the name of a point; a roster could not tell them")
                )
    sessions = [("rules", r.id, r.roster) for r in profile.sessions.rules]
    sessions += [("one_off", s.id, s.roster) for s in profile.sessions.one_off]
    counters = {"rules": 0, "one_off": 0}
    for kind, sid, roster in sessions:
        index = counters[kind]
        counters[kind] += 1
        by_group = groups(profile)
        for ni, name in enumerate(roster):
            if name != ALL and name not in by_group and name not in ids:
                found.append(
                    (
                        f"sessions.{kind}[{index}].roster[{ni}]",
                        f"session {sid!r}: no point or group {name!r} "
                        f"(a roster names {describe_names(profile)})",
                    )
                )
    return found
