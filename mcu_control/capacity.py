"""Capacity planning at bring-up: dial only what the MCUs' ports can take, and where.

The placement itself is pure (profiles/placement.py); this module turns it into what the
bring-up and the drill do: the points each MCU dials (the host's and each cascaded
secondary's, roster order), and a FAIL result naming the reason for every point left out for
want of ports (the end of the roster, in roster order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcu_control.results import PointBringup
from profiles import roster
from profiles.placement import Placement, place_roster

if TYPE_CHECKING:
    from mcu_control.site import Site
    from profiles.loader import LoadedProfile


@dataclass(slots=True)
class BringupSplit:
    """Where a roster is dialled: points per MCU (host first), and results for the rest."""

    placement: Placement
    refused: list[PointBringup] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.placement.host

    @property
    def cascades(self) -> list[str]:
        """The secondary MCUs that take points, each joined to the host by one link."""
        return list(self.placement.cascades)

    @property
    def dial(self) -> list[str]:
        """Every point dialled, on whichever MCU (host's first, then each secondary's)."""
        return [pid for ids in self.placement.points.values() for pid in ids]

    def on(self, mcu_id: str) -> list[str]:
        """The points dialled on `mcu_id` (roster order)."""
        return list(self.placement.points.get(mcu_id, []))

    def mcu_of(self, point_id: str) -> str | None:
        return self.placement.mcu_of(point_id)


def split_for_bringup(site: Site, ids: list[str] | None, *, national: bool = False) -> BringupSplit:
    """Place `ids` (roster order; None: the whole site) and say what is not dialled, and why.

    `national`: the session's national link takes a port on the host.
    """
    profile = site.profile
    order = list(dict.fromkeys(ids)) if ids else list(roster.resolve(profile, None).points)
    upstream = national and profile.upstream is not None
    plan = place_roster(profile, site.loaded.models, order, upstream=upstream)
    split = BringupSplit(placement=plan)
    names = {p.id: p.name for p in profile.points}
    for pid in plan.left_out:
        split.refused.append(
            PointBringup(
                pid,
                names[pid],
                reason=f"left out: the roster needs {plan.needed} video ports and the MCUs "
                f"have {plan.available}; {plan.shortfall} point(s) at the end of the roster "
                "are not dialled",
            )
        )
    return split


def occurrence_capacity(
    loaded: LoadedProfile, names: Sequence[str], *, national: bool = False
) -> dict[str, Any]:
    """The roster's size and whether it fits the MCUs (for `schedule list`)."""
    resolved = roster.resolve(loaded.profile, names)
    plan = place_roster(loaded.profile, loaded.models, resolved.points, upstream=national)
    return {
        "points": len(resolved.points),
        "mcus": {m: len(ids) for m, ids in plan.points.items() if ids},
        "needed_ports": plan.needed,
        "available_ports": plan.available,
        "shortfall": plan.shortfall,
        "left_out": list(plan.left_out),
    }
