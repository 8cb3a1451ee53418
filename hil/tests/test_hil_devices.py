"""The contract checks (hil/contract.py) against every device of the inventory (hil/tests/conftest.py).

The same checks run in the contract suites against every registered driver and its simulator.
"""

from __future__ import annotations

from hil.contract import (
    camera_control,
    camera_read_only,
    codec_read_only,
    mcu_read_only,
    mixer_control,
    mixer_read_only,
)
from mcu_control.site import Site
from profiles import LoadedProfile


def _split(device_id: str) -> tuple[str, str]:
    point, _, device = device_id.partition(".")
    return point, device


async def test_mcu_answers(inventory: LoadedProfile) -> None:
    site = Site(inventory)
    try:
        await mcu_read_only(await site.mcu())
    finally:
        await site.close()


async def test_codec_reachable(inventory: LoadedProfile, codec_id: str) -> None:
    site = Site(inventory)
    try:
        point = inventory.profile.point(_split(codec_id)[0])
        await codec_read_only(await site.codec(point))
    finally:
        await site.close()


async def test_recorder_reachable(inventory: LoadedProfile) -> None:
    site = Site(inventory)
    try:
        await codec_read_only(await site.recorder_probe())
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
        await camera_read_only(cam, tokens=cfg.presets.values())
        if allow_control:
            await camera_control(cam, token=cfg.presets[cfg.session_preset])
    finally:
        await site.close()


async def test_mixer_contract(inventory: LoadedProfile, mixer_id: str, allow_control: bool) -> None:
    point = inventory.profile.point(_split(mixer_id)[0])
    assert point.mixer is not None
    site = Site(inventory)
    try:
        mixer = await site.mixer(point)
        channels = point.mixer.session_channels or list(point.mixer.channels)
        await mixer_read_only(mixer, channels=channels)
        if allow_control:
            await mixer_control(mixer, channel=channels[0])
    finally:
        await site.close()
