"""SNMP mixer against snmpsim: v3 authPriv, the error mapping, health, and no serialisation."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devices.errors import AuthenticationError, DeviceError, DeviceTimeoutError
from devices.health import HealthState
from devices.secrets import Secret
from drivers.snmp import oids as mib
from drivers.snmp.client import SnmpClient
from drivers.snmp.driver import SnmpMixer
from hil.sim.snmp_agent import SnmpAgent

ROOT = Path(__file__).resolve().parent.parent
OIDS: dict[str, Any] = yaml.safe_load(
    (ROOT / "profiles" / "models" / "qsc-qsys-core-110f.yaml").read_text(encoding="utf-8")
)["snmp"]
CHANNELS = {"mic1": 1, "mic2": 2, "out": 3}
COMMUNITY = "unit-community"
READ_ONLY = "unit-read-only"
USER, AUTH, PRIV = "mcuctl", "auth-key-123", "priv-key-456"
IF_OPER_1 = "1.3.6.1.2.1.2.2.1.8.1"
SENSOR_STATUS_2 = "1.3.6.1.2.1.99.1.1.1.5.2"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def agent() -> Iterator[SnmpAgent]:
    """One snmpsim process on three endpoints, v2c and v3 authPriv (SHA/AES)."""
    endpoints = [("127.0.0.1", free_udp_port()) for _ in range(3)]
    a = SnmpAgent(
        endpoints=endpoints,
        community=COMMUNITY,
        v3_user=USER,
        auth_key=AUTH,
        priv_key=PRIV,
        read_only_community=READ_ONLY,
    )
    a.start_sync()
    yield a
    a.stop_sync()


def v2c(agent: SnmpAgent, *, endpoint: int = 0, name: str = "t.mixer", **kw: Any) -> SnmpMixer:
    host, port = agent.endpoints[endpoint]
    args: dict[str, Any] = {
        "host": host,
        "port": port,
        "community": Secret(COMMUNITY),
        "channels": CHANNELS,
        "oids": OIDS,
        "timeout_s": 1.0,
        **kw,
    }
    return SnmpMixer(name, **args)


def v3(
    agent: SnmpAgent,
    *,
    auth: str = AUTH,
    user: str = USER,
    priv: str = PRIV,
    context: str | None = None,
    timeout_s: float = 1.0,
) -> SnmpMixer:
    host, port = agent.endpoints[0]
    return SnmpMixer(
        "t.v3",
        host=host,
        port=port,
        version="3",
        user=user,
        auth_key=Secret(auth),
        priv_key=Secret(priv),
        auth_protocol="SHA",
        priv_protocol="AES",
        context=agent.context if context is None else context,
        channels=CHANNELS,
        oids=OIDS,
        timeout_s=timeout_s,
    )


async def test_v3_authpriv_reads_and_writes(agent: SnmpAgent) -> None:
    mixer = v3(agent)
    try:
        assert (await mixer.health()).state is HealthState.OK
        await mixer.set_mute("mic1", True)
        assert await mixer.get_mute("mic1") is True
        await mixer.set_mute("mic1", False)
        assert await mixer.get_mute("mic1") is False
    finally:
        await mixer.close()


@pytest.mark.parametrize(
    ("user", "auth", "code"),
    [(USER, "wrong-key-999", "WrongDigest"), ("nobody", AUTH, "UnknownUserName")],
)
async def test_v3_bad_credentials_are_authentication_errors_without_the_secret(
    agent: SnmpAgent, user: str, auth: str, code: str
) -> None:
    mixer = v3(agent, auth=auth, user=user)
    try:
        with pytest.raises(AuthenticationError) as exc:
            await mixer.get_mute("mic1")
    finally:
        await mixer.close()
    assert exc.value.code == code
    assert exc.value.device == "t.v3"
    assert auth not in str(exc.value) and PRIV not in str(exc.value)


async def test_out_of_range_value_is_wrong_value(agent: SnmpAgent) -> None:
    mixer = v2c(agent)
    try:
        with pytest.raises(DeviceError) as exc:
            await mixer.client.set(OIDS["mute"].format(index=1), 7)
        assert exc.value.code == "wrongValue"
        with pytest.raises(DeviceError) as snap:
            await mixer.recall_snapshot(99)
        assert snap.value.code == "wrongValue"
    finally:
        await mixer.close()


async def test_set_on_read_only_oid_is_not_writable(agent: SnmpAgent) -> None:
    """snmpsim answers noSuchInstance where real agents say notWritable: both read notWritable."""
    mixer = v2c(agent, oids={**OIDS, "mute": OIDS["meter"]})
    try:
        with pytest.raises(DeviceError) as exc:
            await mixer.set_mute("mic1", True)
    finally:
        await mixer.close()
    assert exc.value.code == "notWritable"
    assert exc.value.device == "t.mixer"


@pytest.mark.parametrize("batch", [20, 2])
async def test_channel_states_in_batched_gets_match_the_single_reads(
    agent: SnmpAgent, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import drivers.snmp.driver as snmp_driver

    monkeypatch.setattr(snmp_driver, "GET_BATCH", batch)  # 2: three GETs for three channels
    mixer = v2c(agent)
    try:
        await mixer.set_mute("mic2", True)
        await mixer.set_mute("mic1", False)
        await mixer.set_level("out", -12.0)
        states = await mixer.channel_states(["mic1", "mic2", "out"])
        singles = [(await mixer.get_mute(ch), await mixer.get_level(ch)) for ch in CHANNELS]
    finally:
        await mixer.close()
    assert [(s.muted, s.level_db) for s in states] == singles
    assert [s.muted for s in states[:2]] == [False, True]
    assert states[2].level_db == pytest.approx(-12.0, abs=0.1)


async def test_channel_states_name_the_channel_whose_oid_is_missing(agent: SnmpAgent) -> None:
    mixer = v2c(agent, oids={**OIDS, "level": "1.3.6.1.4.1.1536.9.9.{index}"})
    try:
        with pytest.raises(DeviceError) as exc:
            await mixer.channel_states(["mic1", "out"])
    finally:
        await mixer.close()
    assert exc.value.code == "noSuchInstance"
    assert "level of mic1" in exc.value.message


async def test_missing_oid_is_no_such_instance(agent: SnmpAgent) -> None:
    mixer = v2c(agent, oids={**OIDS, "level": "1.3.6.1.4.1.1536.9.9.{index}"})
    try:
        with pytest.raises(DeviceError) as exc:
            await mixer.get_level("out")
    finally:
        await mixer.close()
    assert exc.value.code == "noSuchInstance"


async def test_wrong_community_times_out_with_a_hint(agent: SnmpAgent) -> None:
    mixer = v2c(agent, community=Secret("not-the-community"), timeout_s=0.3)
    try:
        with pytest.raises(DeviceTimeoutError) as exc:
            await mixer.get_mute("mic1")
    finally:
        await mixer.close()
    assert "community" in (exc.value.hint or "")
    assert "not-the-community" not in str(exc.value)


async def test_read_only_community_is_no_access_with_a_credentials_hint(agent: SnmpAgent) -> None:
    mixer = v2c(agent, community=Secret(READ_ONLY))
    try:
        assert await mixer.get_mute("mic1") in (True, False)  # it may read
        with pytest.raises(AuthenticationError) as exc:
            await mixer.set_mute("mic1", True)
    finally:
        await mixer.close()
    err = exc.value
    assert err.code == "noAccess"
    assert err.kind == "authentication"
    assert "read-only community" in (err.hint or "")
    assert "model file" not in (err.hint or "")
    assert READ_ONLY not in str(err)


async def test_an_oid_holding_a_string_is_a_wrong_type_naming_the_type(agent: SnmpAgent) -> None:
    """The model's level OID points at ifDescr (an OCTET STRING): not "does not exist"."""
    mixer = v2c(agent, oids={**OIDS, "level": "1.3.6.1.2.1.2.2.1.2.{index}"})
    try:
        with pytest.raises(DeviceError) as exc:
            await mixer.get_level("mic1")
    finally:
        await mixer.close()
    err = exc.value
    assert err.code == "wrongType"
    assert err.kind == "invalid-parameter"
    assert "OctetString" in err.message and "INTEGER" in err.message
    assert "1.3.6.1.2.1.2.2.1.2.1" in err.message


async def test_v3_silence_hints_at_the_privacy_key_and_context(agent: SnmpAgent) -> None:
    """snmpsim, like many agents, does not answer a context it does not serve."""
    mixer = v3(agent, context="no-such-context", timeout_s=0.5)
    try:
        with pytest.raises(DeviceTimeoutError) as exc:
            await mixer.get_mute("mic1")
    finally:
        await mixer.close()
    hint = exc.value.hint or ""
    assert "privacy key" in hint and "context" in hint


async def test_v3_wrong_privacy_key_names_the_privacy_key(agent: SnmpAgent) -> None:
    mixer = v3(agent, priv="wrong-priv-key-000", timeout_s=0.5)
    try:
        with pytest.raises(AuthenticationError) as exc:
            await mixer.get_mute("mic1")
    finally:
        await mixer.close()
    assert exc.value.code == "DecryptionError"
    assert "privacy key" in (exc.value.hint or "")
    assert "wrong-priv-key-000" not in str(exc.value)


async def test_a_reboot_during_an_outage_is_seen_by_the_next_driver(agent: SnmpAgent) -> None:
    """The driver that saw the old uptime is gone (outage → rebuilt); the new one still knows."""
    first = v2c(agent, endpoint=1, name="t.outage")
    try:
        assert (await first.health()).state is HealthState.OK
    finally:
        await first.close()
    await agent.reboot(1)
    second = v2c(agent, endpoint=1, name="t.outage")
    try:
        health = await second.health()
        assert health.state is HealthState.DEGRADED
        assert "rebooted" in health.reason
        assert (await second.health()).state is HealthState.OK  # reported once
    finally:
        await second.close()


def test_a_reboot_is_seen_even_when_the_new_uptime_exceeds_the_old() -> None:
    """Up 5 min, an hour-long outage with a reboot in it, up 30 min: 30 min < 5 min + 1 h."""
    assert mib.rebooted(uptime=180_000, previous=30_000, elapsed_s=3600)
    assert not mib.rebooted(uptime=390_000, previous=30_000, elapsed_s=3600)
    assert not mib.rebooted(uptime=389_000, previous=30_000, elapsed_s=3600)  # drift allowed


async def test_a_set_without_answer_may_still_apply_a_get_not(agent: SnmpAgent) -> None:
    mixer = v2c(agent, community=Secret("not-the-community"), timeout_s=0.3)
    try:
        with pytest.raises(DeviceTimeoutError) as set_exc:
            await mixer.set_mute("mic1", True)
        assert set_exc.value.may_have_applied is True
        with pytest.raises(DeviceTimeoutError) as get_exc:
            await mixer.get_mute("mic1")
        assert get_exc.value.may_have_applied is False
    finally:
        await mixer.close()


async def test_snapshot_recall_sets_the_active_snapshot(agent: SnmpAgent) -> None:
    mixer = v2c(agent)
    try:
        await mixer.recall_snapshot(3)
        assert await mixer.active_snapshot() == 3
        await mixer.recall_snapshot(1)
        assert await mixer.active_snapshot() == 1
    finally:
        await mixer.close()


async def test_health_reports_interface_down_sensors_and_reboot(agent: SnmpAgent) -> None:
    mixer = v2c(agent, endpoint=2)
    try:
        first = await mixer.health()
        assert first.state is HealthState.OK, first.reason
        assert first.details["sensor1"] == pytest.approx(42.5)  # 425 at precision 1, Celsius
        assert first.details["if1"] == "up"
        assert isinstance(first.details["uptime_s"], float) and first.details["uptime_s"] >= 86400
        await mixer.client.set(IF_OPER_1, 2)
        down = await mixer.health()
        assert down.state is HealthState.DEGRADED
        assert "interface 1 is down" in down.reason
        await mixer.client.set(IF_OPER_1, 1)
        await mixer.client.set(SENSOR_STATUS_2, 3)
        assert "sensor 2 is nonoperational" in (await mixer.health()).reason
        await mixer.client.set(SENSOR_STATUS_2, 1)
        assert (await mixer.health()).state is HealthState.OK

        await agent.reboot(2)  # the agent process restarts: sysUpTime starts again from 0
        rebooted = await mixer.health()
        assert rebooted.state is HealthState.DEGRADED
        assert "rebooted" in rebooted.reason
        assert (await mixer.health()).state is HealthState.OK  # reported once
    finally:
        await mixer.close()


async def test_later_health_reads_scale_new_sensor_values_by_the_metadata_read_first(
    agent: SnmpAgent,
) -> None:
    """Scale, precision, units and sysDescr are read once per connection; values every time."""
    mixer = v2c(agent, endpoint=2)
    sensor_value_1 = "1.3.6.1.2.1.99.1.1.1.4.1"
    try:
        first = await mixer.health()
        await mixer.client.set(sensor_value_1, 431)
        later = await mixer.health()
        assert later.details["sensor1"] == pytest.approx(43.1)  # 431 at precision 1
        assert later.details["sensor1_units"] == first.details["sensor1_units"] == "Celsius"
        assert later.details["sys_descr"] == first.details["sys_descr"]
    finally:
        await mixer.client.set(sensor_value_1, 425)
        await mixer.close()


async def test_one_dead_agent_does_not_slow_the_live_ones(agent: SnmpAgent) -> None:
    """Measured in one run: live agents' query time alone, then beside a dead agent."""
    live = [v2c(agent, endpoint=i, name=f"live{i}.mixer") for i in range(3)]
    dead_port = free_udp_port()
    dead = SnmpMixer(
        "dead.mixer",
        host="127.0.0.1",
        port=dead_port,
        community=Secret(COMMUNITY),
        channels=CHANNELS,
        oids=OIDS,
        timeout_s=1.0,
    )
    loop = asyncio.get_running_loop()

    async def timed(m: SnmpMixer) -> float:
        t0 = loop.time()
        await m.health()
        return loop.time() - t0

    try:
        for m in [*live, dead]:
            await m.connect()  # engines are built here, not during the measured queries
        await asyncio.gather(*(m.health() for m in live))
        alone = await asyncio.gather(*(timed(m) for m in live))
        t0 = loop.time()
        mixed = await asyncio.gather(*(timed(m) for m in live), timed(dead), return_exceptions=True)
        total = loop.time() - t0
    finally:
        for m in [*live, dead]:
            await m.close()
    live_mixed = [r for r in mixed[:3] if isinstance(r, float)]
    assert len(live_mixed) == 3, mixed
    assert isinstance(mixed[3], DeviceTimeoutError)
    assert mixed[3].device == "dead.mixer"
    print(
        f"\nlive alone max {max(alone) * 1000:.0f} ms; with a dead agent max {max(live_mixed) * 1000:.0f} ms; dead agent failed after {total:.2f} s"
    )
    # the dead agent takes its whole 1 s timeout: a live read that waited for it would too
    assert max(live_mixed) < 0.8, "a live agent waited for the dead one"
    assert 0.95 <= total < 1.5


async def test_concurrent_queries_on_one_agent_do_not_serialise(agent: SnmpAgent) -> None:
    mixer = v2c(agent)
    client: SnmpClient = mixer.client
    loop = asyncio.get_running_loop()
    try:
        await mixer.get_mute("mic1")
        t0 = loop.time()
        await mixer.get_mute("mic1")
        one = loop.time() - t0
        t0 = loop.time()
        results = await asyncio.gather(*(mixer.get_mute("mic1") for _ in range(20)))
        twenty = loop.time() - t0
    finally:
        await client.close()
    assert len(results) == 20
    print(f"\none GET {one * 1000:.1f} ms, 20 concurrent GETs {twenty * 1000:.1f} ms")
    assert twenty < 1.0


async def test_each_endpoint_is_its_own_device(agent: SnmpAgent) -> None:
    a, b = v2c(agent, endpoint=1, name="a.mixer"), v2c(agent, endpoint=2, name="b.mixer")
    try:
        await a.set_mute("mic2", True)
        await b.set_mute("mic2", False)
        assert await a.get_mute("mic2") is True
        assert await b.get_mute("mic2") is False
    finally:
        await a.close()
        await b.close()


async def test_identify_reads_the_vendor_firmware_oid(agent: SnmpAgent) -> None:
    mixer = v2c(agent, manufacturer="QSC", model="qsc-qsys-core-110f")
    try:
        info = await mixer.identify()
    finally:
        await mixer.close()
    assert (info.manufacturer, info.firmware) == ("QSC", "9.4.1-2208.003")
    assert info.extra["sys_name"] == "core-110f-01"
    assert info.extra["sys_descr"].startswith("QSC Q-SYS Core 110f")


async def test_an_idle_engine_does_not_tick_and_a_lost_request_is_still_retried(
    agent: SnmpAgent,
) -> None:
    """pysnmp's timer runs only while a request is in flight, and it still retransmits then."""
    from chaos.proxy import FaultProxy

    _host, port = agent.endpoints[1]
    proxy = FaultProxy("udp", port)
    await proxy.start()
    mixer = v2c(agent, endpoint=1, port=proxy.port, retries=1, timeout_s=1.0)
    try:
        assert await mixer.get_mute("mic1") in (True, False)
        dispatcher = mixer.client._engine.transport_dispatcher  # the engine pysnmp ticks on
        assert dispatcher.loopingcall is None  # idle: nothing wakes the loop every 0.5 s
        proxy.mode = "blackhole"  # the first GET is lost ...
        read = asyncio.create_task(mixer.get_mute("mic1"))
        await asyncio.sleep(0.3)
        assert dispatcher.loopingcall is not None  # ... while it is out, the engine ticks
        proxy.mode = "pass"  # ... and its retransmission, a tick after 1 s, is answered
        assert await read in (True, False)
        assert dispatcher.loopingcall is None
    finally:
        await mixer.close()
        await proxy.stop()
