"""Contract checks that need nothing but the device: one set, run everywhere.

The contract suites (`tests/contract/`) run them against every registered driver and its
simulator; `pytest hil --inventory FILE` runs the same functions against every device of a site
profile (read-only unless `--hil-allow-control`). A check raises AssertionError (or the device's
own error) naming the device; it restores what it changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from devices.errors import NotSupportedError
from devices.health import HealthState
from devices.interfaces import AudioMixer, Codec, Mcu, PtzCamera, PtzPosition

#: one device's check: (device, what the profile says about it) -> None
Check = Callable[..., Awaitable[None]]


async def camera_read_only(cam: PtzCamera, *, tokens: Iterable[str]) -> None:
    """Identify, presets (the profile's tokens exist on the device), clock if any, health."""
    info = await cam.identify()
    assert info.manufacturer or info.model, f"{cam.name}: identify() named nothing"
    listed = {p.token for p in await cam.presets()}
    missing = set(tokens) - listed
    assert not missing, f"{cam.name}: profile presets missing on the device: {sorted(missing)}"
    try:
        reading = await cam.clock()
        assert abs(reading.offset_s) < 365 * 86400, f"{cam.name}: clock {reading.offset_s} s off"
    except NotSupportedError:
        pass
    status = await cam.status()
    assert status.moving in (True, False, None)
    assert (await cam.health()).state is not HealthState.DOWN, f"{cam.name}: health DOWN"


async def camera_control(cam: PtzCamera, *, token: str) -> None:
    """Recall `token` and wait for arrival: the camera reports it still (or cannot tell)."""
    status = await cam.goto_preset(token, wait=True, timeout_s=20)
    assert status.moving in (False, None), f"{cam.name}: still moving after arrival"
    if status.position is not None:
        assert isinstance(status.position, PtzPosition)


async def mixer_read_only(mixer: AudioMixer, *, channels: list[str]) -> None:
    """Health and every channel's mute (and level where the block has one)."""
    assert (await mixer.health()).state is not HealthState.DOWN, f"{mixer.name}: health DOWN"
    states = await mixer.channel_states(channels)
    assert [s.channel for s in states] == channels, f"{mixer.name}: channel states {states}"


async def mixer_control(mixer: AudioMixer, *, channel: str) -> None:
    """Flip one mute, read it back, and put it back as it was."""
    before = await mixer.get_mute(channel)
    try:
        await mixer.set_mute(channel, not before)
        assert await mixer.get_mute(channel) is (not before), f"{mixer.name}: {channel} unchanged"
    finally:
        await mixer.set_mute(channel, before)
    assert await mixer.get_mute(channel) is before, f"{mixer.name}: {channel} not restored"


async def mcu_read_only(mcu: Mcu) -> None:
    """Info, health, and a conference list without duplicate names."""
    info = await mcu.info()
    assert info.model, f"{mcu.name}: info() has no model"
    health = await mcu.health()
    assert health.state in (HealthState.OK, HealthState.DEGRADED), f"{mcu.name}: {health}"
    names = [c.name for c in await mcu.conferences()]
    assert len(names) == len(set(names)), f"{mcu.name}: duplicate conference names {names}"


async def codec_read_only(codec: Codec) -> None:
    """Reachable, with a non-negative round trip when measured."""
    result = await codec.ping()
    assert result.reachable, f"{codec.name}: {result.detail}"
    assert result.rtt_ms is None or result.rtt_ms >= 0


#: per interface name: (read-only check, control check or None)
CHECKS: dict[str, tuple[Check, Check | None]] = {
    "PtzCamera": (camera_read_only, camera_control),
    "AudioMixer": (mixer_read_only, mixer_control),
    "Mcu": (mcu_read_only, None),
    "Codec": (codec_read_only, None),
}


def checks_for(kind: str) -> tuple[Check, Check | None]:
    """The checks of one interface; KeyError for an interface without checks (a test fails)."""
    return CHECKS[kind]


__all__ = [
    "CHECKS",
    "Check",
    "camera_control",
    "camera_read_only",
    "checks_for",
    "codec_read_only",
    "mcu_read_only",
    "mixer_control",
    "mixer_read_only",
]
