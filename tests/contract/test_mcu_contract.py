"""The `Mcu` contract, run over real HTTP against each driver's simulator.

Parametrised over (CodianMcu, CodianSim) and (RmxMcu, RmxSim); every test builds a fresh
simulator on an ephemeral port and a driver pointed at it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devices.errors import (
    AuthenticationError,
    DeviceError,
    DeviceTimeoutError,
    McuControlError,
    NotSupportedError,
    ProtocolError,
    TransportError,
)
from devices.health import HealthState
from devices.interfaces import (
    CallProtocol,
    CallState,
    Capability,
    ConferenceSpec,
    ConnectionState,
    Mcu,
    Participant,
    ParticipantSpec,
)
from devices.secrets import Secret
from drivers.codian.driver import CodianMcu
from drivers.registry import keys
from drivers.rmx.driver import RmxMcu
from hil.contract import mcu_read_only
from hil.sim.codian import CodianSim
from hil.sim.http_sim import XmlHttpSimulator
from hil.sim.rmx import RmxSim

PASSWORD = "Pw-contract-7f3a9c"
TIMEOUT_S = 0.6
NAME = "trung-tam.mcu"


@dataclass(frozen=True)
class Family:
    name: str
    make_sim: Callable[..., XmlHttpSimulator]
    make_mcu: Callable[..., Mcu]
    user: str
    duplicate_code: int
    no_conference_code: int | str
    degrade: dict[str, str]
    critical: dict[str, str]


FAMILIES = [
    Family(
        "codian",
        CodianSim,
        CodianMcu,
        "admin",
        2,
        4,
        {"fanStatus": "outOfSpec"},
        {"temperatureStatus": "critical"},
    ),
    Family(
        "rmx",
        RmxSim,
        RmxMcu,
        "POLYCOM",
        2501,  # "Display name already exists" (docs/protocols/rmx.md §30)
        2500,  # "Conference name or ID does not exist" (§31)
        {"MCU_STATE": "Minor"},  # MCU state IDs (§22)
        {"MCU_STATE": "Major"},
    ),
]


#: contract rows (families) per registered driver key (test_registry.py checks coverage)
ROWS: dict[str, list[str]] = {"codian-xmlrpc": ["codian"], "rmx-xml": ["rmx"]}
FAMILIES = [f for key in keys("Mcu") for f in FAMILIES if f.name in ROWS.get(key, [])]


@dataclass
class Rig:
    family: Family
    sim: Any  # CodianSim | RmxSim
    mcu: Mcu

    def driver(self, **overrides: Any) -> Mcu:
        kwargs: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.sim.port,
            "tls": False,
            "username": self.family.user,
            "password": Secret(PASSWORD),
            "timeout_s": TIMEOUT_S,
        }
        kwargs.update(overrides)
        return self.family.make_mcu(NAME, **kwargs)


@pytest.fixture(params=FAMILIES, ids=[f.name for f in FAMILIES])
async def rig(request: pytest.FixtureRequest, _no_leftover_tasks: None) -> AsyncIterator[Rig]:
    """A started simulator and a driver on it; torn down before the leaked-task guard runs."""
    family: Family = request.param
    sim = family.make_sim(username=family.user, password=PASSWORD, default_dial_latency_s=0.03)
    await sim.start()
    r = Rig(family, sim, None)  # type: ignore[arg-type]
    r.mcu = r.driver()
    try:
        yield r
    finally:
        await r.mcu.close()
        await sim.stop()


async def wait_for(
    probe: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool], *, timeout: float = 3.0
) -> Any:
    """Poll `probe` until `accept(result)`; fail the test with the last result otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if accept(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s; last: {result!r}")
        await asyncio.sleep(0.02)


async def participant(mcu: Mcu, conference: str, name: str) -> Participant:
    found = [p for p in await mcu.participants(conference) if p.name == name]
    assert len(found) == 1, f"{name} not listed exactly once in {conference}"
    return found[0]


async def settled(mcu: Mcu, conference: str, name: str, state: CallState) -> Participant:
    p: Participant = await wait_for(
        lambda: participant(mcu, conference, name), lambda p: p.call_state is state
    )
    return p


# --------------------------------------------------------------------------- device


async def test_info_reports_model_version_and_clock(rig: Rig) -> None:
    info = await rig.mcu.info()
    assert info.model in ("Codian MCU 5320", "Rmx_1800")
    assert info.software_version
    assert info.current_time is not None
    assert abs((info.current_time - dt.datetime.now(dt.UTC)).total_seconds()) < 60


async def test_health_ok_then_degraded_then_down(rig: Rig) -> None:
    h = await rig.mcu.health()
    assert h.state is HealthState.OK
    assert "mediaLoad" in h.details
    rig.sim.health.update(rig.family.degrade)
    h = await rig.mcu.health()
    assert h.state is HealthState.DEGRADED, h
    rig.sim.health.update(rig.family.critical)
    assert (await rig.mcu.health()).state is HealthState.DOWN


# --------------------------------------------------------------------------- conferences


async def test_create_list_destroy_conference(rig: Rig) -> None:
    created = await rig.mcu.create_conference(
        ConferenceSpec("TCD-1", numeric_id="8101", pin="1234")
    )
    assert created.name == "TCD-1"
    assert created.active
    listed = {c.name: c for c in await rig.mcu.conferences()}
    assert listed["TCD-1"].numeric_id == "8101"
    await rig.mcu.create_conference(ConferenceSpec("TCD-2", duration_s=3600))
    assert {c.name for c in await rig.mcu.conferences()} == {"TCD-1", "TCD-2"}
    await rig.mcu.destroy_conference("TCD-1")
    assert [c.name for c in await rig.mcu.conferences()] == ["TCD-2"]


async def test_duplicate_conference_keeps_vendor_code(rig: Rig) -> None:
    await rig.mcu.create_conference(ConferenceSpec("dup"))
    with pytest.raises(DeviceError) as caught:
        await rig.mcu.create_conference(ConferenceSpec("dup"))
    assert caught.value.code == rig.family.duplicate_code
    assert caught.value.device == NAME
    assert not isinstance(caught.value, AuthenticationError)


async def test_destroying_unknown_conference_is_a_device_error(rig: Rig) -> None:
    with pytest.raises(DeviceError) as caught:
        await rig.mcu.destroy_conference("nope")
    assert caught.value.code == rig.family.no_conference_code
    with pytest.raises(DeviceError) as caught:
        await rig.mcu.add_participant("nope", ParticipantSpec("a", "sip:a@h"))
    assert caught.value.code == rig.family.no_conference_code


async def test_codian_invented_enumerate_id_is_fault_16() -> None:
    async with CodianSim(password=PASSWORD) as sim:
        mcu = CodianMcu(
            NAME,
            host="127.0.0.1",
            port=sim.port,
            tls=False,
            username="admin",
            password=Secret(PASSWORD),
            timeout_s=TIMEOUT_S,
        )
        try:
            with pytest.raises(DeviceError) as caught:
                await mcu.call("conference.enumerate", {"enumerateID": "made-up"})
            assert caught.value.code == 16
            with pytest.raises(DeviceError) as caught:
                await mcu.call("participant.status", {"conferenceName": "x"})
            assert caught.value.code == 4
        finally:
            await mcu.close()


def _state(mcu: Mcu) -> ConnectionState:
    return mcu.state


async def test_codian_silence_fails_the_link_and_a_timed_out_change_may_still_apply() -> None:
    """A dead HTTP MCU is not CONNECTED; a create that timed out says it may still happen."""
    async with CodianSim(password=PASSWORD) as sim:
        mcu = CodianMcu(
            NAME,
            host="127.0.0.1",
            port=sim.port,
            tls=False,
            username="admin",
            password=Secret(PASSWORD),
            timeout_s=TIMEOUT_S,
        )
        try:
            await mcu.connect()
            assert mcu.state is ConnectionState.CONNECTED
            sim.faults.delay_s = 10
            with pytest.raises(DeviceTimeoutError) as created:
                await mcu.create_conference(ConferenceSpec("late-one"))
            assert created.value.may_have_applied is True
            assert "may still be applied" in (created.value.hint or "")
            assert _state(mcu) is ConnectionState.FAILED
            with pytest.raises(DeviceTimeoutError) as read:
                await mcu.info()
            assert read.value.may_have_applied is False
        finally:
            sim.faults.delay_s = 0
            await mcu.close()


async def test_listing_pages_across_many_conferences(rig: Rig) -> None:
    names = [f"conf-{i:02d}" for i in range(26)]  # > 24: two pages even with moreThanFour
    for n in names:
        await rig.mcu.create_conference(ConferenceSpec(n))
    assert sorted(c.name for c in await rig.mcu.conferences()) == names
    if rig.family.name == "codian":
        assert rig.sim.calls["conference.enumerate"] >= 2


async def test_codian_four_per_page_without_more_than_four() -> None:
    async with CodianSim(password=PASSWORD) as sim:
        mcu = CodianMcu(
            NAME,
            host="127.0.0.1",
            port=sim.port,
            tls=False,
            username="admin",
            password=Secret(PASSWORD),
            timeout_s=TIMEOUT_S,
            more_than_four=False,
        )
        try:
            for i in range(9):
                await mcu.create_conference(ConferenceSpec(f"c{i}"))
            assert len(await mcu.conferences()) == 9
            assert sim.calls["conference.enumerate"] == 3  # 4 + 4 + 1
        finally:
            await mcu.close()


async def test_cached_listing_follows_revisions(rig: Rig) -> None:
    await rig.mcu.create_conference(ConferenceSpec("a"))
    assert [c.name for c in await rig.mcu.conferences()] == ["a"]
    assert [c.name for c in await rig.mcu.conferences()] == ["a"]  # served by the delta check
    await rig.mcu.create_conference(ConferenceSpec("b"))
    assert sorted(c.name for c in await rig.mcu.conferences()) == ["a", "b"]
    await rig.mcu.destroy_conference("a")
    assert [c.name for c in await rig.mcu.conferences()] == ["b"]


# --------------------------------------------------------------------------- participants


async def test_participants_connect_counters_grow_mute_disconnect_remove(rig: Rig) -> None:
    mcu = rig.mcu
    await mcu.create_conference(ConferenceSpec("s"))
    await mcu.add_participant("s", ParticipantSpec("tien-du", "sip:tien-du@127.0.0.1:15103"))
    await mcu.add_participant(
        "s",
        ParticipantSpec("que-vo", "10.0.0.5", protocol=CallProtocol.H323, bitrate_kbps=2048),
    )
    a = await settled(mcu, "s", "tien-du", CallState.CONNECTED)
    b = await settled(mcu, "s", "que-vo", CallState.CONNECTED)
    assert a.address == "sip:tien-du@127.0.0.1:15103"
    assert a.protocol is CallProtocol.SIP
    assert b.protocol is CallProtocol.H323
    assert b.address == "10.0.0.5"
    assert a.connect_time is not None

    await asyncio.sleep(0.15)
    later = await participant(mcu, "s", "tien-du")
    assert later.media.audio_rx_received > a.media.audio_rx_received
    assert later.media.video_tx_sent > a.media.video_tx_sent
    assert later.media.audio_rx_codec and later.media.video_rx_codec
    assert not later.packet_loss_warning

    await mcu.set_audio_mute("s", "tien-du", True)
    assert (await participant(mcu, "s", "tien-du")).audio_muted
    assert not (await participant(mcu, "s", "que-vo")).audio_muted
    await mcu.set_audio_mute("s", "tien-du", False)
    assert not (await participant(mcu, "s", "tien-du")).audio_muted

    await mcu.disconnect_participant("s", "tien-du")
    gone = await settled(mcu, "s", "tien-du", CallState.DISCONNECTED)
    assert gone.disconnect_reason == "localTeardown"
    await mcu.connect_participant("s", "tien-du")
    await settled(mcu, "s", "tien-du", CallState.CONNECTED)

    await mcu.remove_participant("s", "que-vo")
    assert [p.name for p in await mcu.participants("s")] == ["tien-du"]
    with pytest.raises(DeviceError):
        await mcu.connect_participant("s", "que-vo")


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [("busy", "busy"), ("no_answer", "noAnswer"), ("unreachable", "destinationUnreachable")],
)
@pytest.mark.parametrize("protocol", [CallProtocol.SIP, CallProtocol.H323])
async def test_failed_dial_ends_disconnected_with_reason(
    rig: Rig, outcome: str, reason: str, protocol: CallProtocol
) -> None:
    address = "sip:busy@127.0.0.1" if protocol is CallProtocol.SIP else "busy-h323"
    rig.sim.set_behaviour(address, outcome=outcome, dial_latency_s=0.1)
    await rig.mcu.create_conference(ConferenceSpec("s"))
    await rig.mcu.add_participant("s", ParticipantSpec("x", address, protocol=protocol))
    first = await participant(rig.mcu, "s", "x")
    assert first.call_state in (CallState.PROCEEDING, CallState.ALERTING)
    p = await settled(rig.mcu, "s", "x", CallState.DISCONNECTED)
    assert p.disconnect_reason == reason
    assert p.connect_time is None


@pytest.mark.parametrize(("loss", "critical"), [(3.0, False), (8.0, True)])
async def test_loss_flags_follow_configured_loss(rig: Rig, loss: float, critical: bool) -> None:
    rig.sim.set_behaviour("sip:lossy@127.0.0.1", packet_loss_pct=loss)
    await rig.mcu.create_conference(ConferenceSpec("s"))
    await rig.mcu.add_participant(
        "s", ParticipantSpec("lossy", "sip:lossy@127.0.0.1", bitrate_kbps=8192)
    )
    p: Participant = await wait_for(
        lambda: participant(rig.mcu, "s", "lossy"),
        lambda p: p.media.video_rx_received + p.media.video_rx_lost >= 300,
    )
    assert p.packet_loss_warning
    assert p.packet_loss_critical is critical
    assert p.media.rx_loss_ratio == pytest.approx(loss / 100, abs=0.02)


async def test_participants_page_across_more_than_one_page(rig: Rig) -> None:
    await rig.mcu.create_conference(ConferenceSpec("s"))
    await rig.mcu.create_conference(ConferenceSpec("t"))
    names = [f"p{i:02d}" for i in range(12)]
    for n in names:
        await rig.mcu.add_participant("s", ParticipantSpec(n, f"sip:{n}@127.0.0.1"))
    await rig.mcu.add_participant("t", ParticipantSpec("other", "sip:other@127.0.0.1"))
    assert sorted(p.name for p in await rig.mcu.participants("s")) == names
    everyone = await rig.mcu.participants()
    assert len(everyone) == 13
    if rig.family.name == "codian":
        assert rig.sim.calls["participant.enumerate"] >= 4  # two listings of two pages


async def test_port_limit_rejects_the_extra_call() -> None:
    async with CodianSim(password=PASSWORD, max_video_ports=1, default_dial_latency_s=0.01) as sim:
        mcu = CodianMcu(
            NAME,
            host="127.0.0.1",
            port=sim.port,
            tls=False,
            username="admin",
            password=Secret(PASSWORD),
            timeout_s=TIMEOUT_S,
        )
        try:
            await mcu.create_conference(ConferenceSpec("s"))
            await mcu.add_participant("s", ParticipantSpec("a", "sip:a@h"))
            await settled(mcu, "s", "a", CallState.CONNECTED)
            await mcu.add_participant("s", ParticipantSpec("b", "sip:b@h"))
            b = await settled(mcu, "s", "b", CallState.DISCONNECTED)
            assert b.disconnect_reason == "portAllocationExceeded"
        finally:
            await mcu.close()


async def test_layout_where_supported(rig: Rig) -> None:
    await rig.mcu.create_conference(ConferenceSpec("s"))
    await rig.mcu.add_participant("s", ParticipantSpec("a", "sip:a@h"))
    if rig.mcu.supports(Capability.MCU_LAYOUT):
        await rig.mcu.set_layout("s", "a", 3)
        assert rig.sim.state.participants[("s", "a")].layout == "layout3"
    else:
        with pytest.raises(NotSupportedError):
            await rig.mcu.set_layout("s", "a", 3)


# --------------------------------------------------------------------------- recording


async def test_recording_link_connects_and_is_idempotent(rig: Rig) -> None:
    spec = ParticipantSpec("recorder", "sip:ghihinh@127.0.0.1:15070", bitrate_kbps=2048)
    await rig.mcu.create_conference(ConferenceSpec("s"))
    assert not await rig.mcu.recording_connected("s", "recorder")
    await rig.mcu.start_recording("s", spec)
    await rig.mcu.start_recording("s", spec)  # dialling already: no duplicate
    assert await wait_for(lambda: rig.mcu.recording_connected("s", "recorder"), bool)
    await rig.mcu.disconnect_participant("s", "recorder")
    await settled(rig.mcu, "s", "recorder", CallState.DISCONNECTED)
    assert not await rig.mcu.recording_connected("s", "recorder")
    await rig.mcu.start_recording("s", spec)  # redials the configured recorder
    assert await wait_for(lambda: rig.mcu.recording_connected("s", "recorder"), bool)
    assert [p.name for p in await rig.mcu.participants("s")] == ["recorder"]


# --------------------------------------------------------------------------- failures


async def test_wrong_password_is_an_authentication_error(rig: Rig) -> None:
    bad = rig.driver(password=Secret("Wrong-pw-19c2e"))
    try:
        with pytest.raises(AuthenticationError) as caught:
            await bad.info()
    finally:
        await bad.close()
    assert caught.value.device == NAME
    assert "Wrong-pw-19c2e" not in str(caught.value)
    if rig.family.name == "codian":
        assert caught.value.code == 15


async def test_stalled_simulator_times_out_within_the_deadline(rig: Rig) -> None:
    await rig.mcu.info()  # log in first (RMX) so only the stalled call is timed
    rig.sim.faults.delay_s = 10
    started = time.monotonic()
    with pytest.raises(DeviceTimeoutError) as caught:
        await rig.mcu.conferences()
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT_S + 0.4
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.device == NAME


async def test_malformed_xml_is_a_protocol_error(rig: Rig) -> None:
    await rig.mcu.info()
    rig.sim.faults.malformed = True
    with pytest.raises(ProtocolError) as caught:
        await rig.mcu.health()
    assert caught.value.device == NAME
    assert "malformed" in caught.value.message


async def test_http_500_is_a_clear_device_error(rig: Rig) -> None:
    await rig.mcu.info()
    rig.sim.faults.http_500 = True
    with pytest.raises(DeviceError) as caught:
        await rig.mcu.conferences()
    assert caught.value.code == "http-500"
    assert "HTTP 500" in str(caught.value)
    rig.sim.faults.clear()
    assert await rig.mcu.conferences() == []  # the next call works again


async def test_dropped_connection_is_a_transport_error(rig: Rig) -> None:
    await rig.mcu.info()
    rig.sim.faults.drop = True
    with pytest.raises(TransportError) as caught:
        await rig.mcu.conferences()
    assert caught.value.device == NAME
    rig.sim.faults.drop = False
    assert await rig.mcu.conferences() == []


async def test_refused_connection_is_a_transport_error(rig: Rig) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = rig.driver(port=port)
    try:
        with pytest.raises(TransportError) as caught:
            await dead.info()
    finally:
        await dead.close()
    assert "cannot connect" in caught.value.message


# --------------------------------------------------------------------------- secrets


async def test_no_password_in_any_log_record_at_debug(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # root: drivers, httpx, httpcore, aiohttp, asyncio
    wrong = "Wrong-pw-debug-5d1e"
    errors: list[McuControlError] = []
    mcu = rig.mcu
    await mcu.info()
    await mcu.health()
    await mcu.create_conference(ConferenceSpec("s", pin="4321"))
    await mcu.add_participant("s", ParticipantSpec("a", "sip:a@h"))
    await settled(mcu, "s", "a", CallState.CONNECTED)
    await mcu.set_audio_mute("s", "a", True)
    await mcu.participants()
    try:
        await mcu.create_conference(ConferenceSpec("s"))
    except McuControlError as exc:
        errors.append(exc)
    rig.sim.faults.http_500 = True
    try:
        await mcu.conferences()
    except McuControlError as exc:
        errors.append(exc)
    rig.sim.faults.clear()
    bad = rig.driver(password=Secret(wrong))
    try:
        await bad.info()
    except McuControlError as exc:
        errors.append(exc)
    finally:
        await bad.close()
    assert len(errors) == 3
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert any(r.name == f"mcu_control.device.{NAME}" for r in caplog.records)
    for record in caplog.records:
        for secret in (PASSWORD, wrong):
            assert secret not in record.getMessage(), f"{record.name} logged a password"
    for secret in (PASSWORD, wrong):
        assert secret not in caplog.text  # formatted, with any tracebacks
    for err in errors:
        for secret in (PASSWORD, wrong):
            assert secret not in str(err)
            assert secret not in repr(err.to_dict())


# --------------------------------------------------------------------------- TLS


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sim-mcu")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "mcu.pem", tmp / "mcu.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
async def test_https_with_ca_file_verify_and_no_verify(family: Family, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sim = family.make_sim(username=family.user, password=PASSWORD, ssl_context=context)
    await sim.start()
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": sim.port,
        "tls": True,
        "username": family.user,
        "password": Secret(PASSWORD),
        "timeout_s": 2.0,
    }
    drivers = [
        family.make_mcu(NAME, **base, ca_file=str(cert)),
        family.make_mcu(NAME, **base),
        family.make_mcu(NAME, **base, verify_tls=False),
    ]
    try:
        trusted, untrusted, unverified = drivers
        assert (await trusted.info()).software_version
        with pytest.raises(TransportError) as caught:
            await untrusted.info()
        assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
        assert caught.value.hint is not None and "ca_file" in caught.value.hint
        assert (await unverified.info()).software_version
    finally:
        for d in drivers:
            await d.close()
        await sim.stop()


# --------------------------------------------------------------------------- scenario data


async def test_scenario_data_drives_the_simulator(rig: Rig) -> None:
    rig.sim.apply(
        {
            "addresses": {
                "sip:yen-phong@127.0.0.1:15104": {"outcome": "busy", "dial_latency_s": 0.01},
                "sip:gia-binh@127.0.0.1:15107": {"packet_loss_pct": 8.0},
            },
            "health": rig.family.degrade,
        }
    )
    await rig.mcu.create_conference(ConferenceSpec("s"))
    await rig.mcu.add_participant(
        "s", ParticipantSpec("yen-phong", "sip:yen-phong@127.0.0.1:15104")
    )
    p = await settled(rig.mcu, "s", "yen-phong", CallState.DISCONNECTED)
    assert p.disconnect_reason == "busy"
    assert (await rig.mcu.health()).state is HealthState.DEGRADED
    with pytest.raises(ValueError, match="outcome"):
        rig.sim.set_behaviour("sip:x@h", outcome="explode")
    with pytest.raises(ValueError, match="unknown behaviour"):
        rig.sim.set_behaviour("sip:x@h", colour="red")
    with pytest.raises(KeyError):
        rig.sim.apply({"adresses": {}})
    rig.sim.apply({"faults": {"http_500": True}})
    with pytest.raises(DeviceError):
        await rig.mcu.conferences()


# --------------------------------------------------------------------------- rig from a profile


async def test_profile_rig_and_builder_meet_over_http(
    monkeypatch: pytest.MonkeyPatch,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    from hil.sim.mcu_rig import mcu_sim_for_profile
    from mcu_control.builders.mcu import build, conference_spec, point_spec, recorder_spec
    from profiles.loader import load_profile

    monkeypatch.setenv("MCU_CONTROL_DEMO_SECRET", PASSWORD)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    central = next(p for p in demo_profile_data["points"] if p["role"] == "central")
    central["mcu"]["port"] = port
    loaded = load_profile(write_profile(demo_profile_data))
    sim = mcu_sim_for_profile(
        loaded, scenario={"addresses": {"sip:tien-du@127.0.0.1:15103": {"outcome": "busy"}}}
    )
    assert isinstance(sim, CodianSim)
    assert sim.state.max_video_ports == 40  # from the cisco-mcu-5320 model
    await sim.start()
    mcu = build(loaded)
    try:
        assert isinstance(mcu, CodianMcu)
        assert mcu.name == "trung-tam.mcu"
        spec = conference_spec(loaded)
        assert (spec.name, spec.numeric_id, spec.duration_s) == ("TCD-BacNinh", "8100", None)
        await mcu.create_conference(spec)
        await mcu.add_participant(spec.name, point_spec(loaded, "tien-du"))
        p = await settled(mcu, spec.name, "tien-du", CallState.DISCONNECTED)
        assert p.disconnect_reason == "busy"
        await mcu.start_recording(spec.name, recorder_spec(loaded))
        assert await wait_for(lambda: mcu.recording_connected(spec.name, "recorder"), bool)
    finally:
        await mcu.close()
        await sim.stop()


async def test_codian_relearns_a_participant_readded_with_another_protocol(rig: Rig) -> None:
    if rig.family.name != "codian":
        pytest.skip("Codian identifies participants by (name, type, protocol)")
    other = rig.driver()  # a second client changes the participant behind our back
    try:
        await rig.mcu.create_conference(ConferenceSpec("s"))
        await rig.mcu.add_participant("s", ParticipantSpec("a", "sip:a@h"))
        await other.remove_participant("s", "a")
        await other.add_participant("s", ParticipantSpec("a", "10.0.0.7", CallProtocol.H323))
        await rig.mcu.set_audio_mute("s", "a", True)
        assert (await participant(rig.mcu, "s", "a")).audio_muted
    finally:
        await other.close()


async def test_the_hil_checks_hold(rig: Rig) -> None:
    """What `pytest hil --inventory` runs against a real MCU, here against the simulator."""
    await mcu_read_only(rig.mcu)
