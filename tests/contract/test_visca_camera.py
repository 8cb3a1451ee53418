"""VISCA driver against its simulators: faults, resends, buffer full, errors, power."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from ptz_rigs import SRG_300H, Rig, close_rig, make_rig, visca_cam, visca_presets

from devices.errors import (
    ConfigError,
    DeviceError,
    DeviceTimeoutError,
    ProtocolError,
    TransportError,
)
from drivers.visca.codec import ErrorCode
from drivers.visca.driver import ViscaCamera
from drivers.visca.ip import ViscaIpTransport
from drivers.visca.serial import ViscaSerialTransport
from hil.sim.visca_cam import ViscaIpSim, ViscaSerialSim

pytestmark = pytest.mark.usefixtures("_no_leftover_tasks")

VISCA_KINDS = ["visca-socket", "visca-pty", "visca-ip"]


@pytest.fixture(params=VISCA_KINDS)
async def rig(request: pytest.FixtureRequest, _no_leftover_tasks: None) -> AsyncIterator[Rig]:
    r = await make_rig(request.param)
    try:
        yield r
    finally:
        await close_rig(r)


async def test_garbage_is_a_protocol_error_naming_the_camera_within_the_timeout(rig: Rig) -> None:
    rig.sim.faults.garbage = True
    start = time.monotonic()
    with pytest.raises(ProtocolError) as info:
        await rig.cam.status()
    assert time.monotonic() - start < 1.0  # the camera's timeout is 1 s
    assert info.value.device == "test.cam1"
    assert "test.cam1" in str(info.value)


async def test_silence_is_a_timeout_naming_the_camera(rig: Rig) -> None:
    rig.sim.faults.no_reply = True
    start = time.monotonic()
    with pytest.raises(DeviceTimeoutError) as info:
        await rig.cam.goto_preset("1")
    assert 0.9 <= time.monotonic() - start < 1.8
    assert info.value.device == "test.cam1"
    assert isinstance(info.value, TimeoutError)


async def test_recovers_after_a_fault_is_cleared(rig: Rig) -> None:
    rig.sim.faults.garbage = True
    with pytest.raises(ProtocolError):
        await rig.cam.power()
    rig.sim.faults.garbage = False
    assert await rig.cam.power() is True


async def test_buffer_full_is_retried_then_succeeds(rig: Rig) -> None:
    rig.sim.faults.buffer_full_next = 2
    status = await rig.cam.goto_preset("2", timeout_s=3.0)
    assert status.position is not None
    assert abs(status.position.pan + 0.5) < 0.01
    assert rig.sim.faults.buffer_full_next == 0


async def test_persistent_buffer_full_is_a_device_error(rig: Rig) -> None:
    rig.sim.faults.buffer_full = True
    with pytest.raises(DeviceError) as info:
        await rig.cam.goto_preset("1")
    assert info.value.code == ErrorCode.BUFFER_FULL
    assert info.value.kind == "busy" and info.value.retryable
    assert "buffer full" in info.value.message
    assert info.value.hint


async def test_standby_camera_answers_not_executable(rig: Rig) -> None:
    await rig.cam.set_power(False)
    assert await rig.cam.power() is False
    with pytest.raises(DeviceError) as info:
        await rig.cam.goto_preset("1")
    assert info.value.code == ErrorCode.NOT_EXECUTABLE
    assert info.value.kind == "not-allowed" and not info.value.retryable
    await rig.cam.set_power(True)
    assert await rig.cam.power() is True
    await rig.cam.goto_preset("1")


async def test_out_of_range_preset_number_is_refused_before_sending(rig: Rig) -> None:
    with pytest.raises(ConfigError):
        await rig.cam.goto_preset("16")  # SRG-300H: 0–15
    with pytest.raises(ConfigError):
        await rig.cam.goto_preset("chủ trì")  # names are the profile's job


async def test_two_sockets_run_pan_tilt_and_zoom_at_once(rig: Rig) -> None:
    from devices.interfaces import PtzPosition

    start = time.monotonic()
    await rig.cam.absolute_move(PtzPosition(0.5, 0.5, 0.9), timeout_s=3.0)
    # both completions arrive after one move time, not two
    assert time.monotonic() - start < 0.55


async def test_visca_ip_resends_with_the_same_sequence_number() -> None:
    sim = ViscaIpSim(presets=visca_presets(), move_time_s=0.1)
    await sim.start()
    transport = ViscaIpTransport(
        "test.ip", host="127.0.0.1", port=sim.port, timeout_s=2.0, resend_after_s=0.15
    )
    cam = visca_cam("test.ip", transport)
    try:
        await cam.connect()
        sim.received.clear()
        sim.faults.drop_next_replies = 2  # the ACK and the completion of the recall are lost
        status = await cam.goto_preset("2", timeout_s=2.0)
        assert status.position is not None
        assert abs(status.position.pan + 0.5) < 0.01
        commands = [seq for ptype, seq in sim.received if ptype == 0x0100]
        assert len(commands) == 2
        assert commands[0] == commands[1]  # resent, not renumbered
        recalls = [b for b in sim.engine.executed if b[:3] == b"\x01\x04\x3f"]
        assert len(recalls) == 1  # and executed once
    finally:
        await cam.close()
        await sim.stop()


async def test_visca_ip_starts_with_control_reset() -> None:
    sim = ViscaIpSim()
    await sim.start()
    transport = ViscaIpTransport("test.ip", host="127.0.0.1", port=sim.port, timeout_s=1.0)
    try:
        await transport.open()
        assert sim.received[0] == (0x0200, 0)
        await transport.inquiry(b"\x09\x04\x00")
        assert sim.received[1] == (0x0110, 1)
    finally:
        await transport.close()
        await sim.stop()


async def test_serial_wrong_address_gets_no_answer() -> None:
    sim = ViscaSerialSim(address=1)
    await sim.start()
    transport = ViscaSerialTransport("test.cam3", port=sim.url, address=3, timeout_s=0.5)
    try:
        await transport.open()
        with pytest.raises(DeviceTimeoutError) as info:
            await transport.inquiry(b"\x09\x04\x00")
        assert info.value.device == "test.cam3"
    finally:
        await transport.close()
        await sim.stop()


async def test_serial_line_closed_by_the_other_end_is_a_transport_error() -> None:
    sim = ViscaSerialSim()
    await sim.start()
    transport = ViscaSerialTransport("test.cam1", port=sim.url, timeout_s=1.0)
    try:
        await transport.open()
        await sim.stop()
        with pytest.raises(TransportError) as info:
            await transport.inquiry(b"\x09\x04\x00")
        assert "closed" in str(info.value) or "lost" in str(info.value)
        assert info.value.device == "test.cam1"
    finally:
        await transport.close()
        await sim.stop()


async def test_serial_port_that_does_not_exist_is_a_transport_error() -> None:
    transport = ViscaSerialTransport("test.cam1", port="/dev/ttyNOPE-mcu", timeout_s=1.0)
    with pytest.raises(TransportError) as info:
        await transport.open()
    assert "/dev/ttyNOPE-mcu" in str(info.value)
    await transport.close()


async def test_power_off_fault_reports_standby(rig: Rig) -> None:
    rig.sim.faults.update({"power_off": True})
    assert await rig.cam.power() is False
    health = await rig.cam.health()
    assert health.state == "degraded"
    rig.sim.faults.update({"power_off": False})
    assert (await rig.cam.health()).state == "ok"


def test_spread_presets_are_distinct() -> None:
    from hil.sim.ptz_motion import spread_presets

    table = spread_presets(["1", "2", "3", "preset-chu-tri"])
    assert len(set(table.values())) == 4
    assert all(-1 <= p <= 1 and -1 <= t <= 1 and 0 <= z <= 1 for p, t, z in table.values())


async def test_the_last_position_outlives_the_driver_instance() -> None:
    """A reconnection builds a new driver: the camera's last position is not lost with it."""
    from devices.interfaces import PtzPosition
    from devices.memory import MemoryStore

    sim = ViscaIpSim(presets=visca_presets(), move_time_s=0.05)
    await sim.start()
    memories = MemoryStore()

    def instance() -> ViscaCamera:
        transport = ViscaIpTransport("test.mem", host="127.0.0.1", port=sim.port, timeout_s=1.0)
        memory = memories.for_device("test.mem", "127.0.0.1", sim.port)
        return ViscaCamera("test.mem", transport, ranges=SRG_300H, timeout_s=1.0, memory=memory)

    first = instance()
    try:
        await first.absolute_move(PtzPosition(0.25, -0.5, 0.5), timeout_s=3.0)
        seen = (await first.status()).position
    finally:
        await first.close()
    second = instance()  # what the owner of the connections builds after an outage
    try:
        remembered = second.memory.last_position
        assert remembered is not None and remembered.position == seen
        assert remembered.position is not None and abs(remembered.position.pan - 0.25) < 0.01
    finally:
        await second.close()
        await sim.stop()
