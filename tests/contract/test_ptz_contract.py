"""The PtzCamera contract, run against every driver paired with its simulator.

ONVIF (plain and with the cheap-firmware quirks), VISCA over serial (pyserial socket:// URL
and a real pty) and VISCA over IP. Positions are compared in the generic space.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from ptz_rigs import KINDS, MOVE_TIME_S, TOL, Rig, close_rig, make_rig

from devices.health import HealthState
from devices.interfaces import Capability, PtzPosition
from hil.contract import camera_control, camera_read_only


@pytest.fixture(params=KINDS)
async def rig(request: pytest.FixtureRequest, _no_leftover_tasks: None) -> AsyncIterator[Rig]:
    """A connected driver and its simulator; closed before the leftover-task guard runs."""
    r = await make_rig(request.param)
    try:
        yield r
    finally:
        await close_rig(r)


async def test_identify_names_manufacturer_model_firmware(rig: Rig) -> None:
    info = await rig.cam.identify()
    assert info.manufacturer
    assert info.model
    assert info.firmware


async def test_health_is_ok(rig: Rig) -> None:
    health = await rig.cam.health()
    assert health.state == HealthState.OK, health.reason


async def test_presets_list_the_profile_tokens(rig: Rig) -> None:
    presets = await rig.cam.presets()
    assert [p.token for p in presets] == rig.tokens
    assert [p.name for p in presets] == ["chủ trì", "công dân", "toàn cảnh"]


@pytest.mark.parametrize("index", [0, 1])
async def test_goto_preset_waits_for_arrival(rig: Rig, index: int) -> None:
    start = time.monotonic()
    status = await rig.cam.goto_preset(rig.tokens[index], timeout_s=5.0)
    elapsed = time.monotonic() - start
    target = rig.preset_position(index)
    assert status.position is not None
    assert status.position.distance(target) <= TOL, status
    assert status.moving is False
    # the move takes MOVE_TIME_S in the simulator: returning earlier would be a false arrival
    assert elapsed >= MOVE_TIME_S * 0.8
    again = await rig.cam.status()
    assert again.position is not None
    assert again.position.distance(target) <= TOL


async def test_goto_without_wait_returns_before_arrival(rig: Rig) -> None:
    status = await rig.cam.goto_preset(rig.tokens[1], wait=False)
    target = rig.preset_position(1)
    assert status.position is not None
    assert status.position.distance(target) > TOL  # still on its way
    await asyncio.sleep(MOVE_TIME_S + 0.2)
    later = await rig.cam.status()
    assert later.position is not None
    assert later.position.distance(target) <= TOL


async def test_absolute_move_arrives(rig: Rig) -> None:
    if not rig.cam.supports(Capability.PTZ_ABSOLUTE):
        pytest.skip("no absolute move")
    target = PtzPosition(-0.3, 0.4, 0.6)
    status = await rig.cam.absolute_move(target, timeout_s=5.0)
    assert status.position is not None
    assert status.position.distance(target) <= TOL, status
    assert status.moving is False


async def test_continuous_move_moves_and_stops_by_itself(rig: Rig) -> None:
    before = await rig.cam.status()
    assert before.position is not None
    await rig.cam.continuous_move(0.2, 0.0, 0.0, timeout_s=1.0)
    await asyncio.sleep(0.3)
    during = await rig.cam.status()
    assert during.position is not None
    assert during.position.pan > before.position.pan + 0.02
    assert during.moving in (True, None)  # None: MoveStatus UNKNOWN quirk
    await asyncio.sleep(1.0)
    a = await rig.cam.status()
    await asyncio.sleep(0.25)
    b = await rig.cam.status()
    assert a.position is not None
    assert b.position is not None
    assert a.position.distance(b.position) < 0.005, "still moving after its timeout"


async def test_stop_halts_a_continuous_move(rig: Rig) -> None:
    await rig.cam.continuous_move(-0.5, 0.0, 0.0, timeout_s=5.0)
    await asyncio.sleep(0.2)
    await rig.cam.stop()
    a = await rig.cam.status()
    await asyncio.sleep(0.25)
    b = await rig.cam.status()
    assert a.position is not None
    assert b.position is not None
    assert a.position.pan < -0.02
    assert a.position.distance(b.position) < 0.005
    assert b.moving in (False, None)


async def test_saved_preset_is_recalled(rig: Rig) -> None:
    if not rig.cam.supports(Capability.PTZ_SAVE_PRESET):
        pytest.skip("cannot save presets")
    spot = PtzPosition(0.45, -0.15, 0.5)
    await rig.cam.absolute_move(spot, timeout_s=5.0)
    token = await rig.cam.save_preset(None if rig.kind.startswith("onvif") else "5", "thử")
    assert token
    await rig.cam.goto_preset(rig.tokens[2], timeout_s=5.0)
    status = await rig.cam.goto_preset(token, timeout_s=5.0)
    assert status.position is not None
    assert status.position.distance(spot) <= TOL
    assert token in [p.token for p in await rig.cam.presets()]


async def test_close_is_idempotent(rig: Rig) -> None:
    await rig.cam.close()
    await rig.cam.close()


async def test_the_hil_checks_hold(rig: Rig) -> None:
    """What `pytest hil --inventory` runs against a real camera, here against the simulator."""
    await camera_read_only(rig.cam, tokens=rig.tokens)
    await camera_control(rig.cam, token=rig.tokens[1])
