"""Tesira driver against the TTP simulator: faults, reconnects, subscriptions, health."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devices.errors import (
    DeviceError,
    DeviceTimeoutError,
    InvalidParameterError,
    NotSupportedError,
    ProtocolError,
    TransportError,
)
from devices.health import HealthState
from devices.interfaces import ConnectionState, MixerEvent
from drivers.tesira.driver import TesiraMixer, TesiraSerialMixer, TesiraTelnetMixer
from hil.sim.tesira import TesiraSim

ROOT = Path(__file__).resolve().parent.parent
COMMANDS: dict[str, str] = yaml.safe_load(
    (ROOT / "profiles" / "models" / "biamp-tesira-forte.yaml").read_text(encoding="utf-8")
)["ttp"]["commands"]
CHANNELS = {"mic1": ("MicMute", 1), "mic2": ("MicMute", 2), "out": ("ProgramLevel", 1)}
METERS = {"mic1": ("Meters", 1), "mic2": ("Meters", 2)}


@pytest.fixture(params=["telnet", "serial-tcp"])
async def pair(
    request: pytest.FixtureRequest, _no_leftover_tasks: None
) -> AsyncIterator[tuple[TesiraSim, TesiraMixer]]:
    sim = TesiraSim(transport=request.param, meter_interval_s=0.05)
    await sim.start()
    common: dict[str, Any] = {
        "commands": COMMANDS,
        "channels": CHANNELS,
        "meters": METERS,
        "timeout_s": 0.5,
    }
    mixer: TesiraMixer
    if request.param == "telnet":
        mixer = TesiraTelnetMixer("p.mixer", host="127.0.0.1", port=sim.port, **common)
    else:
        mixer = TesiraSerialMixer("p.mixer", url=f"socket://127.0.0.1:{sim.port}", **common)
    try:
        yield sim, mixer
    finally:
        await mixer.close()
        await sim.stop()


async def wait_for(predicate: Any, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_telnet_answers_negotiation_and_waits_for_the_banner(
    pair: tuple[TesiraSim, TesiraMixer],
) -> None:
    sim, mixer = pair
    await mixer.connect()
    assert mixer.state is ConnectionState.CONNECTED
    if sim.transport == "telnet":
        assert sim.negotiations_ok == 1
        assert sim.commands_seen == []  # nothing is sent before the banner


async def test_no_banner_is_a_timeout_naming_the_device() -> None:
    sim = TesiraSim(transport="telnet")
    sim.faults.no_banner = True
    await sim.start()
    mixer = TesiraTelnetMixer(
        "p.mixer",
        host="127.0.0.1",
        port=sim.port,
        commands=COMMANDS,
        channels=CHANNELS,
        timeout_s=0.3,
    )
    try:
        with pytest.raises(DeviceTimeoutError) as exc:
            await mixer.connect()
        assert "banner" in exc.value.message
        assert exc.value.device == "p.mixer"
    finally:
        await mixer.close()
        await sim.stop()


async def test_no_reply_times_out_then_recovers(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    sim, mixer = pair
    sim.faults.no_reply = True
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(DeviceTimeoutError):
        await mixer.get_mute("mic1")
    assert 0.4 < loop.time() - t0 < 1.2
    sim.faults.no_reply = False
    with pytest.raises(TransportError):  # the driver does not reconnect by itself
        await mixer.get_mute("mic1")
    assert mixer.state is ConnectionState.FAILED
    await mixer.connect()  # what the supervisor does
    assert await mixer.get_mute("mic1") is False  # a fresh session, no stale reply
    assert mixer.sessions_opened == 2


async def test_reply_delay_slows_every_answer(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    sim, mixer = pair
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await mixer.get_mute("mic1")
    fast = loop.time() - t0
    sim.faults.reply_delay_s = 0.15
    t0 = loop.time()
    assert await mixer.get_mute("mic1") is False
    assert 0.15 <= loop.time() - t0 < fast + 0.6


async def test_garbage_is_a_protocol_error(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    sim, mixer = pair
    sim.faults.garbage = True
    with pytest.raises(ProtocolError) as exc:
        await mixer.get_mute("mic1")
    assert exc.value.device == "p.mixer"


async def test_err_everything_is_a_device_error(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    sim, mixer = pair
    sim.faults.err_everything = True
    with pytest.raises(DeviceError) as exc:
        await mixer.set_mute("mic1", True)
    assert "fault injected" in exc.value.message


async def test_dropped_link_is_a_transport_error_and_only_connect_reopens_it(
    pair: tuple[TesiraSim, TesiraMixer],
) -> None:
    sim, mixer = pair
    await mixer.set_mute("mic1", True)
    sim.faults.drop = True
    with pytest.raises(TransportError):
        await mixer.get_mute("mic1")
    sim.faults.drop = False
    with pytest.raises(TransportError) as again:
        await mixer.get_mute("mic1")
    assert "does not reopen" in again.value.message
    assert mixer.sessions_opened == 1
    await mixer.connect()  # the supervisor's job
    assert await mixer.get_mute("mic1") is True
    assert mixer.sessions_opened == 2


async def test_unknown_block_and_unsupported_attribute(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    _sim, mixer = pair
    mixer.channels["ghost"] = ("NoSuchBlock", 1)
    with pytest.raises(DeviceError) as exc:
        await mixer.get_mute("ghost")
    assert exc.value.code == "address"
    assert "block" in (exc.value.hint or "")
    with pytest.raises(NotSupportedError):
        await mixer.get_level("mic1")  # a mute block has no level
    states = await mixer.channel_states(["mic1", "out"])
    assert states[0].level_db is None
    assert states[1].level_db is not None


async def test_subscriptions_push_and_are_renewed_after_a_reconnect(
    pair: tuple[TesiraSim, TesiraMixer],
) -> None:
    sim, mixer = pair
    events: list[MixerEvent] = []
    await mixer.subscribe(events.append, meter_rate_ms=50)
    await wait_for(lambda: any(e.kind == "meter" for e in events))
    sim.set_mute("MicMute", 2, True)
    await wait_for(lambda: MixerEvent("mic2", "mute", True) in events)

    subs_before = sim.subscription_count
    assert subs_before >= 5  # mute ×3, level on ProgramLevel, meters ×2
    sim.drop_all()
    await wait_for(lambda: mixer.state is ConnectionState.FAILED)
    await mixer.connect()  # what the supervisor (or the next command) does
    assert sim.subscription_count == subs_before
    events.clear()
    sim.set_mute("MicMute", 1, True)
    sim.set_level("ProgramLevel", 1, -7.0)
    await wait_for(lambda: MixerEvent("mic1", "mute", True) in events)
    await wait_for(lambda: MixerEvent("out", "level", -7.0) in events)
    await wait_for(lambda: any(e.kind == "meter" for e in events))


async def test_renew_subscriptions_after_a_configuration_download(
    pair: tuple[TesiraSim, TesiraMixer],
) -> None:
    sim, mixer = pair
    events: list[MixerEvent] = []
    await mixer.subscribe(events.append)
    count = sim.subscription_count
    sim.forget_subscriptions()
    await mixer.renew_subscriptions()
    assert sim.subscription_count == count
    assert mixer.sessions_opened == 1
    sim.set_mute("MicMute", 1, True)
    await wait_for(lambda: MixerEvent("mic1", "mute", True) in events)


async def test_health_reports_active_faults(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    sim, mixer = pair
    assert (await mixer.health()).state is HealthState.OK
    sim.active_faults = [
        {"id": "INDICATOR_MAJOR_IN_DEVICE", "name": "Audio path fault", "faults": []}
    ]
    health = await mixer.health()
    assert health.state is HealthState.DEGRADED
    assert "Audio path fault" in health.reason
    info = await mixer.identify()
    assert (info.firmware, info.serial) == (sim.version, sim.serial_number)


async def test_preset_recall(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    sim, mixer = pair
    await mixer.recall_snapshot(1001)
    assert sim.recalled_presets == [1001]


async def test_a_level_beyond_the_block_is_refused_not_clamped(
    pair: tuple[TesiraSim, TesiraMixer],
) -> None:
    """The DSP clamps silently (+OK); we say what the block allows and send nothing."""
    sim, mixer = pair
    sim.blocks["ProgramLevel"].max_db = 6.0
    await mixer.set_level("out", -3.0)
    with pytest.raises(InvalidParameterError) as exc:
        await mixer.set_level("out", 20.0)
    assert "asked 20 dB" in exc.value.message
    assert "maximum is 6 dB" in exc.value.message
    with pytest.raises(InvalidParameterError) as low:
        await mixer.set_level("out", -120.0)
    assert "minimum is -100 dB" in low.value.message
    assert await mixer.get_level("out") == -3.0
    assert not any("set level 1 20" in c or "-120" in c for c in sim.commands_seen)


@pytest.mark.parametrize("level", [math.nan, math.inf, -math.inf])
async def test_non_finite_levels_never_reach_the_wire(
    pair: tuple[TesiraSim, TesiraMixer], level: float
) -> None:
    sim, mixer = pair
    with pytest.raises(InvalidParameterError):
        await mixer.set_level("out", level)
    assert not any("set level" in c for c in sim.commands_seen)


async def test_subscriptions_are_renewed_periodically_on_a_live_session(
    pair: tuple[TesiraSim, TesiraMixer],
) -> None:
    """A DSP that rebooted behind an RS-232 line forgets them; nothing on the line says so."""
    sim, mixer = pair
    mixer.renew_every_s = 0.2
    events: list[MixerEvent] = []
    await mixer.subscribe(events.append)
    count = sim.subscription_count
    sim.forget_subscriptions()
    await wait_for(lambda: sim.subscription_count == count, timeout=2.0)
    assert mixer.sessions_opened == 1  # renewed on the same session, not by reconnecting
    sim.set_mute("MicMute", 1, True)
    await wait_for(lambda: MixerEvent("mic1", "mute", True) in events)


async def test_close_removes_our_subscriptions(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    sim, mixer = pair
    await mixer.subscribe(lambda _e: None)
    assert sim.subscription_count >= 5
    await mixer.close()
    await wait_for(lambda: len(sim.subs_at_disconnect) == 1)
    assert sim.subs_at_disconnect == [0]
    assert any(" unsubscribe " in c for c in sim.commands_seen)


async def test_a_frozen_dsp_is_told_apart_from_a_foreign_service() -> None:
    sim = TesiraSim(transport="telnet")
    await sim.start()
    mixer = TesiraTelnetMixer(
        "p.mixer",
        host="127.0.0.1",
        port=sim.port,
        commands=COMMANDS,
        channels=CHANNELS,
        timeout_s=0.3,
    )
    try:
        sim.faults.frozen = True
        with pytest.raises(DeviceTimeoutError) as frozen:
            await mixer.connect()
        assert "sent nothing" in frozen.value.message
        assert "frozen" in (frozen.value.hint or "")
        assert "not a Tesira" not in str(frozen.value)

        sim.faults.frozen = False
        sim.faults.foreign_greeting = "SSH-2.0-OpenSSH_8.9p1\r\n"
        with pytest.raises(ProtocolError) as foreign:
            await mixer.connect()
        assert "not a Tesira Text Protocol server" in foreign.value.message
        assert "SSH-2.0" in foreign.value.message
    finally:
        await mixer.close()
        await sim.stop()


async def test_an_unanswered_set_may_still_apply(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    sim, mixer = pair
    await mixer.connect()
    sim.faults.no_reply = True
    with pytest.raises(DeviceTimeoutError) as set_exc:
        await mixer.set_mute("mic1", True)
    assert set_exc.value.may_have_applied is True
    assert "may still be applied" in (set_exc.value.hint or "")
    await mixer.connect()
    with pytest.raises(DeviceTimeoutError) as get_exc:
        await mixer.get_mute("mic1")
    assert get_exc.value.may_have_applied is False


async def test_non_verbose_session_values_parse(pair: tuple[TesiraSim, TesiraMixer]) -> None:
    _sim, mixer = pair
    await mixer.connect()
    assert mixer._session is not None
    await mixer._session.command(b"SESSION set verbose false\n")
    await mixer.set_level("out", -3.0)
    assert await mixer.get_level("out") == -3.0
    assert await mixer.get_mute("mic1") is False
