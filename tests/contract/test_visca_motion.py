"""VISCA motion as a camera sees it: moves always end in Stop, `moving` is observed, not assumed.

Every test drives the driver over a real socket, pty or UDP endpoint into the simulated camera
and asserts what the camera did (its motion model and the commands it executed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from ptz_rigs import Rig, close_rig, make_rig, visca_cam, visca_presets

from devices.errors import DeviceTimeoutError
from devices.interfaces import PtzPosition
from drivers.visca.driver import ViscaCamera
from drivers.visca.ip import ViscaIpTransport
from hil.sim.visca_cam import ViscaIpSim

pytestmark = pytest.mark.usefixtures("_no_leftover_tasks")

VISCA_KINDS = ["visca-socket", "visca-pty", "visca-ip"]


def _is_stop(body: bytes) -> bool:
    """Pan-tilt Drive with both directions 03 (stop), protocols §4 (`8x 01 06 01 VV WW 03 03 FF`)."""
    return body[:3] == b"\x01\x06\x01" and body[5:7] == b"\x03\x03"


@pytest.fixture(params=VISCA_KINDS)
async def rig(request: pytest.FixtureRequest, _no_leftover_tasks: None) -> AsyncIterator[Rig]:
    r = await make_rig(request.param)
    try:
        yield r
    finally:
        await close_rig(r)


async def test_closing_during_a_continuous_move_still_stops_it_after_its_timeout(rig: Rig) -> None:
    await rig.cam.continuous_move(0.5, 0.0, 0.0, timeout_s=0.4)
    assert rig.sim.engine.motion.moving()
    start = time.monotonic()
    await rig.cam.close()
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 1.5  # the move ran its course, then the Stop went out
    assert any(_is_stop(b) for b in rig.sim.engine.executed)
    assert not rig.sim.engine.motion.moving()
    stopped_at = rig.sim.engine.motion.position()
    await asyncio.sleep(0.2)
    assert rig.sim.engine.motion.position() == stopped_at


async def test_cancelling_the_close_sends_the_stop_at_once(rig: Rig) -> None:
    """Ctrl-C while the CLI waits in close(): the camera stops now, not at the timeout."""
    await rig.cam.continuous_move(0.0, 0.5, 0.0, timeout_s=30.0)
    closing = asyncio.create_task(rig.cam.close())
    await asyncio.sleep(0.2)
    start = time.monotonic()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert time.monotonic() - start < 1.5
    assert any(_is_stop(b) for b in rig.sim.engine.executed)
    assert not rig.sim.engine.motion.moving()


async def test_a_newer_command_supersedes_the_automatic_stop(rig: Rig) -> None:
    await rig.cam.continuous_move(0.5, 0.0, 0.0, timeout_s=0.2)
    await rig.cam.continuous_move(-0.5, 0.0, 0.0, timeout_s=0.6)
    await asyncio.sleep(0.35)  # the first move's timer would have fired by now
    assert rig.sim.engine.motion.moving()
    assert not any(_is_stop(b) for b in rig.sim.engine.executed)
    await rig.cam.close()
    assert not rig.sim.engine.motion.moving()


async def test_loop_shutdown_without_close_still_sends_the_stop() -> None:
    """A process that ends its event loop (asyncio.run returns) without closing the camera."""
    sim = ViscaIpSim(presets=visca_presets(), move_time_s=0.3, ranges={"tilt_speed_max": 20})
    await sim.start()

    async def caller() -> None:
        transport = ViscaIpTransport("test.cam1", host="127.0.0.1", port=sim.port, timeout_s=1.0)
        cam = visca_cam("test.cam1", transport)
        await cam.continuous_move(0.5, 0.0, 0.0, timeout_s=30.0)
        # returns at once: asyncio.run cancels the pending automatic Stop on its way out

    try:
        await asyncio.to_thread(asyncio.run, caller())
        await asyncio.sleep(0.1)
        assert any(_is_stop(b) for b in sim.engine.executed)
        assert not sim.engine.motion.moving()
    finally:
        await sim.stop()


async def test_moving_is_observed_not_assumed(rig: Rig) -> None:
    """Motion the driver did not command (another controller, a previous CLI run) is seen."""
    assert (await rig.cam.status()).moving is False
    rig.sim.engine.motion.drive((0.3, None, None), None)  # someone else moves the camera
    try:
        assert (await rig.cam.status()).moving is True
        assert isinstance(rig.cam, ViscaCamera)
        rig.cam.motion_probe_s = 0
        assert (await rig.cam.status()).moving is None  # without a probe: unknown, not False
    finally:
        rig.sim.engine.motion.stop()


async def test_ack_without_completion_says_still_moving(rig: Rig) -> None:
    rig.sim.engine.motion.move_time_s = 3.0
    start = time.monotonic()
    with pytest.raises(DeviceTimeoutError) as info:
        await rig.cam.absolute_move(PtzPosition(0.5, 0.2, 0.4), timeout_s=0.4)
    assert time.monotonic() - start < 1.5
    err = info.value
    assert err.may_have_applied is True
    assert "still moving" in err.message
    assert err.hint is not None and "power" not in err.hint
    assert "camera status" in err.hint
    assert rig.sim.engine.motion.moving()  # the camera did take the move
