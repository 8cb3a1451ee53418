"""Recall a camera preset and judge arrival on evidence — shared by drill, bring-up and commands.

"The position stopped changing" is no evidence: a camera that ignored the request stops at
once. Arrival needs either the position within `TOLERANCE` of the preset's stored position,
or the device's own completion (VISCA answers a recall with a Completion message when the
move has finished, docs/protocols/visca.md). Before moving, the token must be one the camera
lists (ONVIF GetPresets, docs/protocols/onvif.md): a missing token names the camera's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devices.errors import NotFoundError
from devices.interfaces import PtzCamera, PtzStatus

#: largest |Δpan|, |Δtilt|, |Δzoom| (generic ONVIF space −1…1 / 0…1) counted as "at the preset"
TOLERANCE = 0.02


@dataclass
class PresetOutcome:
    """What a recall achieved: `arrived` True (evidence), False (evidence against), None (no evidence)."""

    token: str
    arrived: bool | None
    reason: str
    status: PtzStatus | None = None
    data: dict[str, Any] = field(default_factory=dict)


async def check_token(camera: PtzCamera, token: str) -> list[str]:
    """The camera's preset tokens; NotFoundError naming them when `token` is not among them."""
    tokens = [p.token for p in await camera.presets()]
    if token not in tokens:
        listed = ", ".join(repr(t) for t in tokens) or "none"
        raise NotFoundError(
            f"the camera has no preset {token!r} (its presets: {listed})",
            device=camera.name,
            hint="store the preset on the camera or fix the token in the profile",
        )
    return tokens


async def recall(
    camera: PtzCamera, token: str, *, timeout_s: float, completion: bool, wait: bool = True
) -> PresetOutcome:
    """Check the token exists, recall it and judge arrival (`completion`: the driver's wait
    ends on the device's completion message)."""
    presets = {p.token: p for p in await camera.presets()}
    if token not in presets:
        await check_token(camera, token)  # raises with the list
    target = presets[token].position
    status = await camera.goto_preset(token, wait=wait, timeout_s=timeout_s)
    data: dict[str, Any] = {"token": token}
    pos = status.position
    if pos is not None:
        data["position"] = {"pan": pos.pan, "tilt": pos.tilt, "zoom": pos.zoom}
    if not wait:
        return PresetOutcome(token, None, "recall sent (not waited for)", status, data)
    if target is not None and pos is not None:
        off = target.distance(pos)
        data["offset"] = round(off, 4)
        if off <= TOLERANCE:
            return PresetOutcome(token, True, "at the preset's position", status, data)
        return PresetOutcome(
            token,
            False,
            f"stopped {off:.3f} away from the preset's position "
            f"(pan {pos.pan:+.3f}/{target.pan:+.3f}, tilt {pos.tilt:+.3f}/{target.tilt:+.3f}, "
            f"zoom {pos.zoom:.3f}/{target.zoom:.3f})",
            status,
            data,
        )
    if completion and status.moving is False:
        return PresetOutcome(token, True, "the camera reported completion", status, data)
    return PresetOutcome(
        token,
        None,
        "arrival not confirmed: the camera reports neither the preset's position nor completion",
        status,
        data,
    )


def reports_completion(driver: str) -> bool:
    """Whether a camera driver's recall waits for the device's completion message."""
    return driver.startswith("visca")
