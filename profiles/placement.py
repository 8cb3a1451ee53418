"""Capacity planning: which MCU each point of a session's roster is dialled on.

Pure functions, no I/O. The *host* MCU (the central point's `mcu`) holds the session
conference, the recorder and the upstream (national) link; each *secondary* MCU that takes
points holds a conference of its own, cascaded into the host's by one call — a port on the
host and a port on the secondary (docs/mcu.md "Several MCUs and cascading"). Ports are video
ports (`max_video_ports` of the MCU's model file in profiles/models/).

Placement follows roster order (profiles/roster.py): the central point is always first and
always on the host; each next point goes to its `preferred_mcu` when that MCU has a free port,
else to the first MCU in use with a free port (host, then secondaries in profile order). A
secondary is brought in only when the MCUs in use are full (or a roster point prefers it).
What fits nowhere is *left out* — always the end of the roster, so the most important points,
named first, are the ones dialled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from profiles.mcu import McuModel
    from profiles.schema import Profile


@dataclass(frozen=True, slots=True)
class McuCapacity:
    """One MCU as capacity planning sees it."""

    id: str
    ports: int
    host: bool = False
    model: str = ""


@dataclass(slots=True)
class Placement:
    """Where a roster goes: points per MCU (roster order), cascades, what was left out."""

    host: str
    points: dict[str, list[str]] = field(default_factory=dict)  # mcu id -> point ids
    cascades: list[str] = field(default_factory=list)  # secondaries in use, each one link
    reserved: dict[str, int] = field(default_factory=dict)  # mcu id -> non-point ports used
    capacity: dict[str, int] = field(default_factory=dict)  # mcu id -> video ports
    left_out: list[str] = field(default_factory=list)  # roster order
    recorder: bool = False
    upstream: bool = False

    @property
    def needed(self) -> int:
        """Ports the whole roster needs: points, recorder, upstream, 2 per cascade link.

        With points left out, every secondary is counted as linked (the roster would need them
        all), so `needed - available` is the honest number of ports missing.
        """
        placed = sum(len(v) for v in self.points.values()) + len(self.left_out)
        links = len(self.capacity) - 1 if self.left_out else len(self.cascades)
        return placed + int(self.recorder) + int(self.upstream) + 2 * links

    @property
    def available(self) -> int:
        return sum(self.capacity.values())

    @property
    def shortfall(self) -> int:
        """Points that do not fit (0: the roster fits)."""
        return len(self.left_out)

    @property
    def ports_short(self) -> int:
        """Video ports missing for the whole roster (0: it fits)."""
        return max(0, self.needed - self.available) if self.left_out else 0

    def mcu_of(self, point_id: str) -> str | None:
        return next((m for m, ids in self.points.items() if point_id in ids), None)

    def used(self, mcu_id: str) -> int:
        return len(self.points.get(mcu_id, [])) + self.reserved.get(mcu_id, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "points": {m: list(ids) for m, ids in self.points.items()},
            "cascades": list(self.cascades),
            "ports": {m: {"used": self.used(m), "capacity": c} for m, c in self.capacity.items()},
            "recorder": self.recorder,
            "upstream": self.upstream,
            "needed": self.needed,
            "available": self.available,
            "shortfall": self.shortfall,
            "ports_short": self.ports_short,
            "left_out": list(self.left_out),
        }


def place(
    roster: Sequence[str],
    mcus: Sequence[McuCapacity],
    *,
    preferred: Mapping[str, str] | None = None,
    recorder: bool = False,
    upstream: bool = False,
) -> Placement:
    """Place `roster` (point ids, roster order, central first) on `mcus` (host first)."""
    if not mcus or not mcus[0].host:
        raise ValueError("the first MCU must be the host")
    preferred = preferred or {}
    host = mcus[0]
    plan = Placement(
        host=host.id,
        capacity={m.id: m.ports for m in mcus},
        recorder=recorder,
        upstream=upstream,
    )
    plan.points = {m.id: [] for m in mcus}
    plan.reserved = {m.id: 0 for m in mcus}
    plan.reserved[host.id] = int(recorder) + int(upstream)

    def free(mcu_id: str) -> int:
        return plan.capacity[mcu_id] - plan.used(mcu_id)

    # which secondaries to link, decided before any point is placed so the host keeps a port
    # for each link: those a roster point prefers, then others in profile order, each only
    # while the roster does not fit yet and only if it adds room (a link costs 2 ports)
    wanted = {preferred[p] for p in roster[1:] if p in preferred}
    candidates = [m for m in mcus[1:] if m.id in wanted] + [
        m for m in mcus[1:] if m.id not in wanted
    ]
    room = host.ports - plan.reserved[host.id]
    for m in candidates:
        if m.ports - 2 <= 0 or room - 1 < 0:
            continue
        if room >= len(roster) and m.id not in wanted:
            break
        plan.cascades.append(m.id)
        plan.reserved[host.id] += 1
        plan.reserved[m.id] += 1
        room += m.ports - 2

    order = [host.id, *plan.cascades]
    for index, point in enumerate(roster):
        want = preferred.get(point) if index else host.id  # the central point: the host
        if want in order and free(want) >= 1:
            target: str | None = want
        elif index == 0:
            target = None
        else:
            target = next((m for m in order if free(m) >= 1), None)
        if target is None:
            plan.left_out.append(point)
            continue
        plan.points[target].append(point)
    for unused in [c for c in plan.cascades if not plan.points[c]]:  # linked for nothing
        plan.cascades.remove(unused)
        plan.reserved[host.id] -= 1
        plan.reserved[unused] -= 1
    plan.points = {m: ids for m, ids in plan.points.items() if ids or m == host.id}
    return plan


def site_mcus(profile: Profile, models: Mapping[str, Any]) -> list[McuCapacity]:
    """The site's MCUs with their ports from the model files: the host first."""
    out: list[McuCapacity] = []
    for i, cfg in enumerate([profile.mcu, *profile.mcus]):
        model: McuModel | None = models.get(cfg.model)
        ports = model.max_video_ports if model is not None else 0
        out.append(McuCapacity(cfg.id, ports, host=i == 0, model=cfg.model))
    return out


def place_roster(
    profile: Profile,
    models: Mapping[str, Any],
    roster: Sequence[str],
    *,
    upstream: bool = False,
) -> Placement:
    """`place` with the profile's MCUs, preferences and recorder."""
    preferred = {p.id: p.preferred_mcu for p in profile.points if p.preferred_mcu}
    return place(
        roster,
        site_mcus(profile, models),
        preferred=preferred,
        recorder=profile.central.recorder is not None,
        upstream=upstream,
    )
