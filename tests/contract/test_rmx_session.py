"""RMX specifics over real HTTP: the connection-bound session, RMX-only behaviours, raw wire.

Facts are numbered as in docs/protocols/rmx.md. The simulator's idle timeout is shortened
so the idle-gap tests take a fraction of a second.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devices.errors import AuthenticationError, NotAllowedNowError, NotFoundError
from devices.interfaces import CallProtocol, CallState, ConferenceSpec, ParticipantSpec
from devices.secrets import Secret
from drivers.rmx.driver import RmxMcu
from drivers.rmx.transport import RmxLink
from hil.sim.rmx import RmxSim

PASSWORD = "Pw-rmx-session-41c"
NAME = "trung-tam.mcu"
IDLE_S = 0.3


@pytest.fixture
async def sim(_no_leftover_tasks: None) -> AsyncIterator[RmxSim]:
    s = RmxSim(password=PASSWORD, idle_timeout_s=IDLE_S, default_dial_latency_s=0.02)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def _driver(sim: RmxSim, **overrides: Any) -> RmxMcu:
    kwargs: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": sim.port,
        "tls": False,
        "username": "POLYCOM",
        "password": Secret(PASSWORD),
        "timeout_s": 2.0,
    }
    kwargs.update(overrides)
    return RmxMcu(NAME, **kwargs)


async def _settled(mcu: RmxMcu, conf: str, name: str) -> Any:
    for _ in range(200):
        for p in await mcu.participants(conf):
            if p.name == name and p.call_state in (CallState.CONNECTED, CallState.DISCONNECTED):
                return p
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name} never settled")


# --------------------------------------------------------------------------- session (§4–§8)


@pytest.mark.parametrize("driver_idle_s", [IDLE_S, 15.0], ids=["proactive", "peer-closed"])
async def test_session_survives_an_idle_gap_longer_than_the_idle_timeout(
    sim: RmxSim, driver_idle_s: float
) -> None:
    # §6: the idle connection, and the login with it, is gone after the keep-alive timeout;
    # the driver either retires it first (proactive) or notices the MCU closed it
    mcu = _driver(sim, idle_timeout_s=driver_idle_s)
    try:
        await mcu.create_conference(ConferenceSpec("s"))
        await asyncio.sleep(IDLE_S * 2)
        assert [c.name for c in await mcu.conferences()] == ["s"]
        await asyncio.sleep(IDLE_S * 2)
        assert (await mcu.health()).details["mcuState"] == "Normal"
    finally:
        await mcu.close()
    assert sim.anonymous_requests == 0
    assert sim.calls["TRANS_MCU/LOGIN"] == 3  # one per connection
    assert sim.connections_seen == 3


async def test_parallel_calls_share_one_logged_in_connection(sim: RmxSim) -> None:
    # §4–§5: a second connection would be anonymous (65561); the driver never opens one
    mcu = _driver(sim)
    try:
        await mcu.create_conference(ConferenceSpec("s"))
        for i in range(4):
            await mcu.add_participant("s", ParticipantSpec(f"p{i}", f"sip:p{i}@h"))
        calls = [mcu.participants("s"), mcu.health(), mcu.info(), mcu.conferences()] * 6
        calls += [mcu.set_audio_mute("s", f"p{i}", False) for i in range(4)]
        results = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await mcu.close()
    # mute of a party still dialling is refused with 100 (§39): allowed, but nothing else
    assert all(
        not isinstance(r, BaseException) or isinstance(r, NotAllowedNowError) for r in results
    ), results
    assert sim.anonymous_requests == 0
    assert sim.connections_seen == 1
    assert sim.max_in_flight == 1
    assert sim.calls["TRANS_MCU/LOGIN"] == 1


async def test_lost_session_logs_in_again_on_the_same_connection_once(sim: RmxSim) -> None:
    # §7: 65561 "User not found" -> one LOGIN on the same connection, then the retry
    mcu = _driver(sim)
    try:
        await mcu.conferences()
        sim.expire_sessions()
        assert await mcu.conferences() == []
        assert sim.calls["TRANS_MCU/LOGIN"] == 2
        assert sim.connections_seen == 1
        sim.expire_sessions()
        sim.password = "changed-on-the-mcu"
        with pytest.raises(AuthenticationError) as caught:
            await mcu.conferences()
        assert caught.value.code == 7003
        assert sim.calls["TRANS_MCU/LOGIN"] == 3  # no loop
    finally:
        await mcu.close()


# --------------------------------------------------------------------------- RMX behaviours


async def test_terminate_in_progress_and_unknown_conference(sim: RmxSim) -> None:
    mcu = _driver(sim)
    try:
        await mcu.create_conference(ConferenceSpec("s"))
        await mcu.destroy_conference("s")  # §31: status 1 "In progress" is success
        assert await mcu.conferences() == []
        with pytest.raises(NotFoundError) as caught:
            await mcu.destroy_conference("s")
        assert caught.value.code == 2500
    finally:
        await mcu.close()


async def test_duplicate_address_warning_means_added(sim: RmxSim) -> None:
    # §36: same address as another party -> added, with 1069 WARNING true
    mcu = _driver(sim)
    try:
        await mcu.create_conference(ConferenceSpec("s"))
        await mcu.add_participant("s", ParticipantSpec("a", "sip:same@h"))
        await mcu.add_participant("s", ParticipantSpec("b", "sip:same@h"))
        assert sorted(p.name for p in await mcu.participants("s")) == ["a", "b"]
    finally:
        await mcu.close()


async def test_audio_mute_leaves_video_alone_and_h323_alias_is_323_id(sim: RmxSim) -> None:
    # §39: VIDEO_MUTE is sent explicitly (absent, it would copy AUDIO_MUTE); §34: 323_id
    mcu = _driver(sim)
    try:
        await mcu.create_conference(ConferenceSpec("s"))
        await mcu.add_participant("s", ParticipantSpec("a", "gia-binh.hn", CallProtocol.H323))
        p = await _settled(mcu, "s", "a")
        assert p.call_state is CallState.CONNECTED
        assert p.display_name == "a"  # VISUAL_NAME (§41)
        await mcu.set_audio_mute("s", "a", True)
        p = next(x for x in await mcu.participants("s") if x.name == "a")
        assert p.audio_muted
        party = sim.state.participants[("s", "a")]
        assert sim._video_muted.get(party.id) is False
        assert sim._alias_types[party.id] == "323_id"
    finally:
        await mcu.close()


async def test_media_counters_show_loss(sim: RmxSim) -> None:
    # §41: counters come from TRANS_PARTY/GET only
    sim.set_behaviour("sip:lossy@h", packet_loss_pct=8.0)
    mcu = _driver(sim)
    try:
        await mcu.create_conference(ConferenceSpec("s"))
        await mcu.add_participant("s", ParticipantSpec("a", "sip:lossy@h"))
        await _settled(mcu, "s", "a")
        await asyncio.sleep(0.3)
        (p,) = await mcu.participants("s")
        assert p.media.video_rx_lost > 0
        assert p.packet_loss_warning and p.packet_loss_critical
        assert sim.calls["TRANS_PARTY/GET"] >= 1
    finally:
        await mcu.close()


async def test_recording_actions_need_a_recording_conference(sim: RmxSim) -> None:
    # §40: START_RECORDING refused with 30011 unless the conference enables recording
    plain = _driver(sim, records_itself=True)
    try:
        await sim_conference_without_recording(plain)
        with pytest.raises(NotAllowedNowError) as caught:
            await plain.start_recording("plain", ParticipantSpec("rec", "sip:rec@h"))
        assert caught.value.code == 30011
        await plain.create_conference(ConferenceSpec("rec"))  # ENABLE_RECORDING true
        assert not await plain.recording_connected("rec", "rec")
        await plain.start_recording("rec", ParticipantSpec("rec", "sip:rec@h"))
        assert await plain.recording_connected("rec", "rec")
        await plain.stop_recording("rec")
        assert not await plain.recording_connected("rec", "rec")
        assert [p.name for p in await plain.participants("rec")] == []  # no recorder dialled
    finally:
        await plain.close()


async def sim_conference_without_recording(mcu: RmxMcu) -> None:
    other = RmxMcu(
        NAME,
        host="127.0.0.1",
        port=mcu._port,
        tls=False,
        username="POLYCOM",
        password=Secret(PASSWORD),
    )
    try:
        await other.create_conference(ConferenceSpec("plain"))
    finally:
        await other.close()


async def test_conference_list_tracks_changes_with_obj_token(sim: RmxSim) -> None:
    # §26: with a token, an unchanged list answers CHANGED false and no entries
    mcu, other = _driver(sim), _driver(sim)
    try:
        await mcu.create_conference(ConferenceSpec("a"))
        first = await mcu.conferences()
        again = await mcu.conferences()
        assert first == again
        await other.create_conference(ConferenceSpec("b"))
        await other.destroy_conference("a")
        assert [c.name for c in await mcu.conferences()] == ["b"]
    finally:
        await mcu.close()
        await other.close()


# --------------------------------------------------------------------------- raw wire


async def _post(link: RmxLink, xml: str) -> ET.Element:
    return ET.fromstring(await link.post(xml.encode(), what="test"))


def _login(user: str, password: str) -> str:
    # §18, FW-T login.xml shape
    return (
        "<TRANS_MCU><TRANS_COMMON_PARAMS><MCU_TOKEN>0</MCU_TOKEN>"
        "<MCU_USER_TOKEN>0</MCU_USER_TOKEN><MESSAGE_ID>1</MESSAGE_ID></TRANS_COMMON_PARAMS>"
        f"<ACTION><LOGIN><MCU_IP><IP>127.0.0.1</IP><LISTEN_PORT>80</LISTEN_PORT></MCU_IP>"
        f"<USER_NAME>{user}</USER_NAME><PASSWORD>{password}</PASSWORD></LOGIN></ACTION>"
        "</TRANS_MCU>"
    )


def _request(trans: str, action: str, inner: str = "") -> str:
    return (
        f"<{trans}><TRANS_COMMON_PARAMS><MCU_TOKEN>0</MCU_TOKEN><MCU_USER_TOKEN>0"
        f"</MCU_USER_TOKEN><MESSAGE_ID>7</MESSAGE_ID></TRANS_COMMON_PARAMS>"
        f"<ACTION><{action}>{inner}</{action}></ACTION></{trans}>"
    )


async def test_simulator_wire_matches_the_document(sim: RmxSim) -> None:
    link = RmxLink(
        "t", host="127.0.0.1", port=sim.port, tls=False, path="/", timeout_s=2.0, ssl_context=None
    )
    await link.open()
    try:
        anon = await _post(link, _request("TRANS_CONF_LIST", "GET_LS", "<OBJ_TOKEN>-1</OBJ_TOKEN>"))
        # §7, §12: RESPONSE_GENERAL, 65561 "User not found", ACTION_TYPE
        assert (anon.tag, anon.findtext("RETURN_STATUS/ID")) == ("RESPONSE_GENERAL", "65561")
        assert anon.findtext("RETURN_STATUS/DESCRIPTION") == "User not found"
        assert anon.findtext("ACTION_TYPE") == "get_request"
        bad = await _post(link, _login("POLYCOM", "wrong"))
        assert (bad.tag, bad.findtext("RETURN_STATUS/ID")) == ("RESPONSE_TRANS_MCU", "7003")
        ok = await _post(link, _login("POLYCOM", PASSWORD))
        assert ok.findtext("RETURN_STATUS/DESCRIPTION") == "Status OK"
        tokens = ok.findtext("ACTION/LOGIN/MCU_TOKEN"), ok.findtext("ACTION/LOGIN/MCU_USER_TOKEN")
        assert tokens[0] == tokens[1]  # §19: both are the connection id
        again = await _post(link, _login("POLYCOM", PASSWORD))
        assert again.findtext("RETURN_STATUS/ID") == "7000"  # §8
        unknown = await _post(link, _request("TRANS_NOPE", "GET"))
        assert (unknown.tag, unknown.findtext("RETURN_STATUS/ID")) == ("RESPONSE_GENERAL", "65538")
        assert unknown.findtext("RETURN_STATUS/DESCRIPTION") == "#65538"  # §13
        wrong = await _post(link, _request("TRANS_PARTY", "SET_CONNECT"))  # §16: only GET
        assert (wrong.tag, wrong.findtext("RETURN_STATUS/ID")) == ("RESPONSE_GENERAL", "65576")
        start = await _post(
            link, _request("TRANS_RES_1", "START", "<RESERVATION><NAME>x</NAME></RESERVATION>")
        )
        assert start.tag == "RESPONSE_TRANS_RES"  # §10
        conf_id = start.findtext("ACTION/START/RESERVATION/ID")
        dup = await _post(
            link, _request("TRANS_RES_1", "START", "<RESERVATION><NAME>x</NAME></RESERVATION>")
        )
        assert dup.findtext("RETURN_STATUS/ID") == "2501"  # §30
        assert dup.find("ACTION") is None  # §11: no content unless OK or a warning
        end = await _post(link, _request("TRANS_CONF_2", "TERMINATE_CONF", f"<ID>{conf_id}</ID>"))
        assert end.tag == "RESPONSE_TRANS_CONF"
        assert (end.findtext("RETURN_STATUS/ID"), end.findtext("RETURN_STATUS/DESCRIPTION")) == (
            "1",
            "In progress",
        )  # §31
        gone = await _post(link, _request("TRANS_CONF_2", "GET", f"<ID>{conf_id}</ID>"))
        assert gone.findtext("RETURN_STATUS/ID") == "2500"  # §32
    finally:
        await link.close()


async def test_a_cancelled_call_leaves_a_usable_driver(sim: RmxSim) -> None:
    # a caller's own deadline (e.g. a drill check) cancels mid-exchange: the half-used
    # connection is dropped, and the next call gets a fresh, logged-in one
    mcu = _driver(sim)
    try:
        await mcu.conferences()
        sim.faults.delay_s = 5
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await mcu.conferences()
        sim.faults.delay_s = 0
        assert await mcu.conferences() == []
    finally:
        await mcu.close()
    assert sim.anonymous_requests == 0
    assert sim.calls["TRANS_MCU/LOGIN"] == 2
