"""Capacity planning at bring-up: dial only what the MCUs' ports can take.

The placement itself is pure (profiles/placement.py); this module turns it into what the
bring-up does: the points the host MCU dials now, and a FAIL result naming the reason for
every point it will not dial — left out for want of ports (the end of the roster, in roster
order), or placed on a secondary MCU while bring-up across cascaded MCUs is not built yet.
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
    """The host's share of a roster, and results for the points not dialled."""

    dial: list[str]
    refused: list[PointBringup] = field(default_factory=list)
    placement: Placement | None = None


def split_for_bringup(site: Site, ids: list[str] | None) -> BringupSplit:
    """Place `ids` (roster order; None: the whole site) and say what is not dialled, and why."""
    profile = site.profile
    order = list(dict.fromkeys(ids)) if ids else list(roster.resolve(profile, None).points)
    plan = place_roster(profile, site.loaded.models, order)
    split = BringupSplit(dial=list(plan.points.get(plan.host, [])), placement=plan)
    names = {p.id: p.name for p in profile.points}
    for mcu_id in plan.cascades:
        for pid in plan.points[mcu_id]:
            split.refused.append(
                PointBringup(
                    pid,
                    names[pid],
                    reason=f"placed on MCU {mcu_id}, but bring-up across cascaded MCUs is not "
                    "available yet: dial it on that MCU by hand, or shorten the roster",
                )
            )
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
