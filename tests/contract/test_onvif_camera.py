"""ONVIF driver against its simulator: clock skew, authentication, quirks and faults."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from ptz_rigs import ONVIF_TOKENS, PASSWORD, onvif_cam, onvif_sim

from devices.errors import (
    AuthenticationError,
    DeviceError,
    DeviceTimeoutError,
    NotFoundError,
    ProtocolError,
    TransportError,
)
from devices.health import HealthState
from drivers.onvif.codec import status as codec_status
from hil.sim.onvif_cam import OnvifCameraSim

pytestmark = pytest.mark.usefixtures("_no_leftover_tasks")


async def _started(**kw: Any) -> OnvifCameraSim:
    sim = onvif_sim(**kw)
    await sim.start()
    return sim


@pytest.mark.parametrize("offset_s", [0.0, 7200.0, -7200.0, 37.5])
async def test_authenticates_across_clock_offsets_and_reports_them(offset_s: float) -> None:
    sim = await _started(clock_offset_s=offset_s)
    cam = onvif_cam(sim)
    try:
        info = await cam.identify()  # an authenticated call
        assert info.manufacturer == "SimCam"
        reading = await cam.clock()
        assert reading.offset_s == pytest.approx(offset_s, abs=1.0)
        assert cam.clock_offset_s == pytest.approx(offset_s, abs=1.5)
        health = await cam.health()
        expected = HealthState.OK if abs(offset_s) < 5 else HealthState.DEGRADED
        assert health.state == expected
        assert health.details["clock_offset_s"] == pytest.approx(offset_s, abs=1.0)
    finally:
        await cam.close()
        await sim.stop()


async def test_health_reads_the_clock_every_few_minutes_and_the_ptz_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A supervisor's health read is one GetStatus; the clock is re-read every CLOCK_RECHECK_S."""
    from drivers.onvif import driver

    sim = await _started(clock_offset_s=7200.0)
    cam = onvif_cam(sim)
    try:
        await cam.connect()
        sim.calls.clear()
        first = await cam.health()
        assert sim.calls == ["GetSystemDateAndTime", "GetStatus"]
        assert first.state is HealthState.DEGRADED  # two hours off: still reported
        assert {"moving", "pan", "tilt", "zoom"} <= first.details.keys()
        sim.calls.clear()
        for _ in range(3):
            again = await cam.health()
        assert sim.calls == ["GetStatus"] * 3
        assert again.details["clock_offset_s"] == first.details["clock_offset_s"]
        monkeypatch.setattr(driver, "CLOCK_RECHECK_S", 0.0)
        sim.calls.clear()
        await cam.health()
        assert sim.calls == ["GetSystemDateAndTime", "GetStatus"]
    finally:
        await cam.close()
        await sim.stop()


async def test_health_reads_keep_their_connection_and_survive_the_camera_closing_it() -> None:
    """Reads 15 s apart reuse one TCP connection (the library alone drops it after 4 s idle);
    a connection the camera closed meanwhile costs a new one, not a failed read."""
    from chaos.proxy import FaultProxy

    sim = await _started()
    proxy = FaultProxy("tcp", sim.port)
    await proxy.start()
    cam = onvif_cam(sim)
    cam.port = proxy.port
    try:
        await cam.health()
        opened = proxy.accepted
        await asyncio.sleep(5.0)  # longer than the library's own keep-alive
        assert (await cam.health()).state == HealthState.OK
        assert proxy.accepted == opened
        await proxy.stop()  # the camera drops every idle connection
        await proxy.start()
        assert (await cam.health()).state == HealthState.OK
        assert proxy.accepted == opened + 1
    finally:
        await cam.close()
        await proxy.stop()
        await sim.stop()


async def test_simulator_rejects_an_uncompensated_clock() -> None:
    """Proves the skew test above is real: without the offset, the same camera says NotAuthorized."""
    import zeep.exceptions
    from onvif import ONVIFCamera

    sim = await _started(clock_offset_s=7200.0)
    raw = ONVIFCamera("127.0.0.1", sim.port, "mcuctl", PASSWORD, adjust_time=False, no_cache=True)
    try:
        with pytest.raises(zeep.exceptions.Fault) as info:
            await raw.update_xaddrs()
        assert [q.localname for q in info.value.subcodes] == ["NotAuthorized"]
    finally:
        await raw.close()
        await sim.stop()


async def test_wrong_password_is_an_authentication_error_without_the_secret() -> None:
    sim = await _started()
    cam = onvif_cam(sim, password="wrong-password-123")
    try:
        with pytest.raises(AuthenticationError) as info:
            await cam.connect()
        assert info.value.device == "test.cam1"
        assert "wrong-password-123" not in str(info.value)
        assert "NTP" in (info.value.hint or "")
    finally:
        await cam.close()
        await sim.stop()


@pytest.mark.parametrize("style", ["fault", "http-401", "reason-only"])
async def test_every_form_of_refused_credentials_is_an_authentication_error(style: str) -> None:
    """ONVIF Core's ter:NotAuthorized, an HTTP 401 challenge, and a fault that only says so."""
    sim = await _started()
    sim.faults.reject_auth_as = style
    cam = onvif_cam(sim, password="wrong-password-123")
    try:
        with pytest.raises(AuthenticationError) as info:
            await cam.connect()
        err = info.value
        assert err.kind == "authentication"
        assert err.device == "test.cam1"
        assert "password" in (err.hint or "") and "NTP" in (err.hint or "")
        assert "wrong-password-123" not in str(err)
    finally:
        await cam.close()
        await sim.stop()


@pytest.mark.parametrize("accepts_any_token", [False, True])
async def test_unlisted_preset_is_not_found_before_anything_is_sent(
    accepts_any_token: bool,
) -> None:
    """Some cameras answer GotoPreset to any token with OK and do nothing: never "arrived"."""
    sim = await _started()
    sim.faults.accept_unknown_preset = accepts_any_token
    cam = onvif_cam(sim)
    try:
        with pytest.raises(NotFoundError) as info:
            await cam.goto_preset("no-such-preset", timeout_s=1.0)
        err = info.value
        assert err.kind == "not-found"
        assert err.device == "test.cam1"
        assert "no-such-preset" in err.message
        assert all(t in err.message for t in ONVIF_TOKENS)  # what the camera does list
        assert "GotoPreset" not in sim.calls
    finally:
        await cam.close()
        await sim.stop()


async def test_quirks_whole_second_timeout_is_sent_and_fractional_is_rejected() -> None:
    sim = await _started(quirks=True)
    strict = onvif_cam(sim, whole_second_timeouts=False)
    tolerant = onvif_cam(sim, name="test.cam2")
    try:
        with pytest.raises(DeviceError) as info:
            await strict.continuous_move(0.1, 0, 0, timeout_s=0.5)
        assert info.value.code == "TimeoutNotSupported"
        await tolerant.continuous_move(0.1, 0, 0, timeout_s=0.5)  # sent as PT1S
        status = await tolerant.status()
        assert status.moving is None  # MoveStatus UNKNOWN
        await tolerant.stop()
    finally:
        await strict.close()
        await tolerant.close()
        await sim.stop()


async def test_first_ptz_profile_is_chosen() -> None:
    sim = await _started()
    cam = onvif_cam(sim)
    try:
        await cam.connect()
        assert cam.profile_token == "profile_1"
        assert [p.token for p in await cam.presets()] == ONVIF_TOKENS
    finally:
        await cam.close()
        await sim.stop()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("garbage", ProtocolError),
        ("no_reply", DeviceTimeoutError),
        ("http_500", DeviceError),
        ("reject_auth", AuthenticationError),
    ],
)
async def test_faults_map_to_clear_errors_within_the_timeout(
    fault: str, error: type[Exception]
) -> None:
    sim = await _started()
    cam = onvif_cam(sim, timeout_s=1.0)
    try:
        await cam.connect()
        sim.faults.update({fault: True})
        start = time.monotonic()
        with pytest.raises(error) as info:
            await cam.status()
        assert time.monotonic() - start < 2.0
        assert getattr(info.value, "device", None) == "test.cam1"
        assert PASSWORD not in str(info.value)
    finally:
        await cam.close()
        await sim.stop()


async def test_refused_connection_is_a_transport_error() -> None:
    sim = await _started()
    port = sim.port
    await sim.stop()
    cam = onvif_cam(sim)
    cam.port = port
    try:
        with pytest.raises(TransportError) as info:
            await cam.connect()
        assert info.value.device == "test.cam1"
    finally:
        await cam.close()


async def test_goto_preset_confirms_arrival_by_position_when_move_status_is_unknown() -> None:
    sim = await _started(quirks=True)
    cam = onvif_cam(sim)
    try:
        start = time.monotonic()
        status = await cam.goto_preset(ONVIF_TOKENS[1], timeout_s=5.0)
        assert time.monotonic() - start >= 0.25
        assert status.moving is False
        assert status.position is not None
        assert abs(status.position.pan - (-0.5)) < 0.01
        assert "GetStatus" in sim.calls
    finally:
        await cam.close()
        await sim.stop()


async def test_arrival_timeout_names_the_camera() -> None:
    sim = await _started()
    sim.motion.move_time_s = 5.0
    cam = onvif_cam(sim)
    try:
        with pytest.raises(DeviceTimeoutError) as info:
            await cam.goto_preset(ONVIF_TOKENS[1], timeout_s=0.4)
        assert info.value.device == "test.cam1"
        assert "did not arrive" in info.value.message
    finally:
        await cam.close()
        await sim.stop()


async def test_a_timed_out_move_may_still_apply_a_timed_out_read_not() -> None:
    sim = await _started()
    cam = onvif_cam(sim, timeout_s=0.5)
    try:
        await cam.connect()
        sim.faults.no_reply = True
        with pytest.raises(DeviceTimeoutError) as move:
            await cam.continuous_move(0.2, 0.0, 0.0, timeout_s=1.0)
        assert move.value.may_have_applied is True
        assert "may still be applied" in (move.value.hint or "")
        with pytest.raises(DeviceTimeoutError) as read:
            await cam.status()
        assert read.value.may_have_applied is False
    finally:
        sim.faults.no_reply = False
        await cam.close()
        await sim.stop()


@pytest.mark.parametrize("style", ["fault", "http-401", "reason-only"])
async def test_a_status_read_refused_after_connect_is_an_authentication_error(style: str) -> None:
    """The polled GetStatus (sent without zeep) maps refusals as every other call does."""
    sim = await _started()
    cam = onvif_cam(sim)
    try:
        await cam.connect()
        sim.faults.update({"reject_auth": True, "reject_auth_as": style})
        with pytest.raises(AuthenticationError) as info:
            await cam.health()
        assert info.value.device == "test.cam1"
        assert "NTP" in (info.value.hint or "")
        assert PASSWORD not in str(info.value)
    finally:
        await cam.close()
        await sim.stop()


async def test_status_envelope_is_the_one_zeep_sends() -> None:
    """Our GetStatus and onvif-zeep-async's carry the same elements, attributes and headers."""
    import xml.etree.ElementTree as ET

    sim = await _started(clock_offset_s=3600.0)
    cam = onvif_cam(sim)
    try:
        await cam.connect()
        sim.received.clear()
        ours = await cam.status()
        ptz = cam._ptz  # the library's own call
        theirs = codec_status(await ptz.GetStatus({"ProfileToken": cam.profile_token}))
        assert ours == theirs
        assert sim.calls[-2:] == ["GetStatus", "GetStatus"]  # both accepted, clock offset included
        (ours_headers, ours_raw), (zeep_headers, zeep_raw) = sim.received

        def shape(raw: bytes) -> list[tuple[str, dict[str, str]]]:
            return [(el.tag, dict(el.attrib)) for el in ET.fromstring(raw).iter()]

        assert shape(ours_raw) == shape(zeep_raw)
        for header in ("Content-Type", "SOAPAction"):
            assert ours_headers[header] == zeep_headers[header]
    finally:
        await cam.close()
        await sim.stop()
