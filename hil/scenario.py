"""Rig scenarios: per-device latencies and faults for the simulated site, as YAML.

A scenario names devices by their site-wide id ("<point>.<device>", e.g. "tien-du.codec";
every MCU as "<central point>.<mcu id>", e.g. "trung-tam.mcu-2"; the national reception
office of the profile's `upstream` as "upstream") and says how the simulator behind each one
behaves. What is not named behaves normally with the scenario's defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devices.errors import ConfigError
from profiles.schema import Profile

SHIPPED = Path(__file__).resolve().parent / "scenarios"
#: the scenario's name for the national reception office (profile `upstream`)
UPSTREAM = "upstream"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    dial_latency_s: float = Field(default=0.3, ge=0, le=60)  # MCU dial to connected
    move_time_s: float = Field(default=0.3, ge=0, le=60)  # camera preset move
    mixer_latency_s: float = Field(default=0.0, ge=0, le=10)  # delay before each mixer reply
    packet_loss_pct: float = Field(default=0.0, ge=0, le=100)
    #: video ports and configured participants of the simulated MCU; None: the profile's MCU
    #: model (a 5320: 40 ports, 500 participants) — scale benchmarks need an imaginary one
    mcu_capacity: int | None = Field(default=None, ge=1, le=100000)


class DeviceBehaviour(_Strict):
    """Behaviour of one simulated device; fields that do not apply to its kind are errors."""

    down: bool = False  # no simulator at all: connection refused / no answer
    #: codec / recorder / upstream: how a call the MCU places to it ends
    outcome: Literal["answer", "busy", "no_answer", "unreachable"] | None = None
    dial_latency_s: float | None = Field(default=None, ge=0, le=60)
    packet_loss_pct: float | None = Field(default=None, ge=0, le=100)
    clock_offset_s: float | None = None  # ONVIF cameras
    move_time_s: float | None = Field(default=None, ge=0, le=60)
    #: recorder with a storage check: stop writing its file this long after the call connects
    recording_stall_after_s: float | None = Field(default=None, ge=0, le=86400)


class Scenario(_Strict):
    name: str
    description: str = ""
    defaults: Defaults = Defaults()
    devices: dict[str, DeviceBehaviour] = Field(default_factory=dict)

    def device(self, device_id: str) -> DeviceBehaviour:
        return self.devices.get(device_id, DeviceBehaviour())


def load_scenario(name_or_path: str | Path | None) -> Scenario:
    """A shipped scenario by name ("one-point-busy") or a YAML file; None means "normal"."""
    if name_or_path is None:
        name_or_path = "normal"
    path = Path(name_or_path)
    if not path.suffix:
        path = SHIPPED / f"{name_or_path}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.yaml")))
        raise ConfigError(f"no scenario {name_or_path!r}", hint=f"shipped scenarios: {shipped}")
    try:
        return Scenario.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"scenario {path} is invalid: {exc}") from None


def check_against_profile(scenario: Scenario, profile: Profile) -> None:
    """ConfigError naming every device of `scenario` that `profile` does not have.

    A scenario about a device that does not exist would silently test nothing (a "busy
    point" scenario on a renamed point runs a normal rig).
    """
    known: dict[str, set[str]] = {}
    for pt in profile.points:
        ids = {pt.codec.id, *(c.id for c in pt.cameras)}
        if pt.mixer is not None:
            ids.add(pt.mixer.id)
        if pt.recorder is not None:
            ids.add(pt.recorder.id)
        if pt.mcu is not None:
            ids.add(pt.mcu.id)
        if pt.role == "central":
            ids.update(m.id for m in profile.mcus)
        known[pt.id] = ids
    problems = []
    for device_id in scenario.devices:
        if device_id == UPSTREAM and profile.upstream is not None:
            continue
        point, _, device = device_id.partition(".")
        if device_id == UPSTREAM:
            problems.append(f"{device_id}: the profile has no `upstream` (national link)")
        elif point not in known:
            problems.append(f"{device_id}: no point {point!r} in the profile")
        elif device not in known[point]:
            have = ", ".join(sorted(known[point]))
            problems.append(f"{device_id}: point {point} has no device {device!r} (it has {have})")
    if problems:
        raise ConfigError(
            f"scenario {scenario.name} names devices the profile does not have: "
            + "; ".join(problems),
            hint=f"points are: {', '.join(known)}; fix the scenario or choose the right --profile",
        )


def shipped_scenarios() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.yaml"))
