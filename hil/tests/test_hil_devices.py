"""Device checks that hold for every real device and every simulator (see hil/tests/conftest.py)."""

from __future__ import annotations

from devices.errors import NotSupportedError
from devices.health import HealthState
from devices.interfaces import PtzPosition
from mcu_control.site import Site
from profiles import LoadedProfile


def _split(device_id: str) -> tuple[str, str]:
    point, _, device = device_id.partition(".")
    return point, device


async def test_mcu_answers(inventory: LoadedProfile) -> None:
    site = Site(inventory)
    try:
        mcu = await site.mcu()
        info = await mcu.info()
        assert info.model
        health = await mcu.health()
        assert health.state in (HealthState.OK, HealthState.DEGRADED), health
        names = [c.name for c in await mcu.conferences()]
        assert len(names) == len(set(names))
    finally:
        await site.close()


async def test_codec_reachable(inventory: LoadedProfile, codec_id: str) -> None:
    site = Site(inventory)
    try:
        point = inventory.profile.point(_split(codec_id)[0])
        r = await (await site.codec(point)).ping()
        assert r.reachable, f"{codec_id}: {r.detail}"
        assert r.rtt_ms is None or r.rtt_ms >= 0
    finally:
        await site.close()


async def test_recorder_reachable(inventory: LoadedProfile) -> None:
    site = Site(inventory)
    try:
        r = await (await site.recorder_probe()).ping()
        assert r.reachable, r.detail
    finally:
        await site.close()


async def test_camera_contract(
    inventory: LoadedProfile, camera_id: str, allow_control: bool
) -> None:
    point_id, cam_id = _split(camera_id)
    point = inventory.profile.point(point_id)
    cfg = next(c for c in point.cameras if c.id == cam_id)
    site = Site(inventory)
    try:
        cam = await site.camera(point, cfg)
        info = await cam.identify()
        assert info.manufacturer or info.model
        presets = await cam.presets()
        tokens = {p.token for p in presets}
        assert set(cfg.presets.values()) <= tokens, (
            f"{camera_id}: profile presets missing on the device"
        )
        try:
            reading = await cam.clock()
            assert abs(reading.offset_s) < 365 * 86400
        except NotSupportedError:
            pass
        if allow_control:
            status = await cam.goto_preset(cfg.presets[cfg.session_preset], wait=True, timeout_s=20)
            assert status.moving in (False, None)
            if status.position is not None:
                assert isinstance(status.position, PtzPosition)
        assert (await cam.health()).state is not HealthState.DOWN
    finally:
        await site.close()


async def test_mixer_contract(inventory: LoadedProfile, mixer_id: str, allow_control: bool) -> None:
    point = inventory.profile.point(_split(mixer_id)[0])
    assert point.mixer is not None
    site = Site(inventory)
    try:
        mixer = await site.mixer(point)
        assert (await mixer.health()).state is not HealthState.DOWN
        channels = point.mixer.session_channels or list(point.mixer.channels)
        states = await mixer.channel_states(channels)
        assert [s.channel for s in states] == channels
        if allow_control:
            ch = channels[0]
            before = await mixer.get_mute(ch)
            try:
                await mixer.set_mute(ch, not before)
                assert await mixer.get_mute(ch) is (not before)
            finally:
                await mixer.set_mute(ch, before)
            assert await mixer.get_mute(ch) is before
    finally:
        await site.close()
