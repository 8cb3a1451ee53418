"""MQTT feed against a real mosquitto: retained state, last will, reconnect, ACL, TLS, HA, commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mqtt_support import Recorder, make_pki, mosquitto
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.errors import ConfigError
from devices.health import HealthState
from devices.secrets import Secret
from drivers.tesira.driver import TesiraTelnetMixer
from hil.sim.tesira import TesiraSim
from mcu_control.audit import AuditLog
from mcu_control.mqtt import MqttFeed, parse_url, resolve_url
from mcu_control.mqtt.commands import response_topic_allowed
from mcu_control.mqtt.embedded import EmbeddedBroker
from mcu_control.mqtt.payloads import encode
from mcu_control.state import PointPhase, SessionPhase, SessionState, StateStore
from profiles.loader import LoadedProfile, load_profile

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "docs" / "schemas"
PREFIX = "mcu-control/bac-ninh-demo"
NOW = dt.datetime(2026, 12, 10, 0, 0, tzinfo=dt.UTC)
POINTS = [
    "trung-tam",
    "tp-bac-ninh",
    "tx-tu-son",
    "tien-du",
    "yen-phong",
    "que-vo",
    "thuan-thanh",
    "gia-binh",
    "luong-tai",
]


def _schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / f"mqtt-{name}.schema.json").read_text())
    return data


def schema_for(topic: str) -> dict[str, Any] | None:
    """The documented schema of a feed topic (None for topics outside the feed)."""
    rest = topic.removeprefix(PREFIX + "/")
    if topic.startswith("homeassistant/") and topic.endswith("/config"):
        return _schema("ha-discovery")
    if rest == topic:
        return None
    if rest.startswith("cmd/") and rest.endswith("/reply"):
        return _schema("command-reply")
    head = rest.split("/", 1)[0]
    return {
        "status": _schema("status"),
        "point": _schema("point"),
        "device": _schema("device"),
        "session": _schema("session"),
        "drill": _schema("drill"),
        "events": _schema("event"),
    }.get(head)


def validate_all(messages: list[tuple[str, bytes, bool, Any]]) -> int:
    """Validate every message of the feed against its schema; return how many were checked."""
    checked = 0
    for topic, payload, _retain, _props in messages:
        schema = schema_for(topic)
        if schema is None or not payload:
            continue
        text = payload.decode("utf-8")
        value = text if topic.endswith("/status") else json.loads(text)
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
        checked += 1
    return checked


def retained_points(messages: list[tuple[str, bytes, bool, Any]]) -> set[str]:
    return {t.rsplit("/", 1)[1] for t, p, retain, _ in messages if retain and "/point/" in t and p}


def seen_points(messages: list[tuple[str, bytes, bool, Any]]) -> set[str]:
    return {t.rsplit("/", 1)[1] for t, p, *_ in messages if "/point/" in t and p}


@pytest.fixture
def profile_for(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> Callable[..., LoadedProfile]:
    def _make(**mqtt: Any) -> LoadedProfile:
        data = dict(demo_profile_data)
        data["mqtt"] = {"keepalive_s": 5, "reconnect_max_s": 1, **mqtt}
        return load_profile(write_profile(data))

    return _make


async def wait(rec: Recorder, predicate: Callable[[Any], Any], timeout: float = 10.0) -> Any:
    return await asyncio.to_thread(rec.wait_for, predicate, timeout)


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll `condition` (cheap, in-loop state) until true; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def started(feed: MqttFeed) -> MqttFeed:
    await feed.start()
    async with asyncio.timeout(10):
        await feed.wait_connected()
    return feed


# ---------------------------------------------------------------------------- unit


def test_url_resolution_order() -> None:
    env = {"MCU_CONTROL_MQTT_URL": "mqtt://env:1883"}
    assert resolve_url("mqtt://profile", "mqtt://cli", env) == "mqtt://cli"
    assert resolve_url("mqtt://profile", None, env) == "mqtt://env:1883"
    assert resolve_url("mqtt://profile", None, {}) == "mqtt://profile"
    assert resolve_url(None, None, {}) is None
    assert parse_url("mqtts://broker").port == 8883
    ws = parse_url("ws://127.0.0.1:9001")
    assert (ws.transport, ws.path) == ("websockets", "/mqtt")


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("clients/panel-1/replies", True),
        (f"{PREFIX}/cmd/drill/reply", True),
        (f"{PREFIX}/point/tien-du", False),  # would overwrite a panel's state
        (f"{PREFIX}/status", False),
        ("homeassistant/sensor/x/config", False),
        ("$SYS/broker", False),
        ("clients/+/replies", False),
        ("", False),
    ],
)
def test_response_topic_policy(topic: str, allowed: bool) -> None:
    assert response_topic_allowed(topic, PREFIX) is allowed


def test_payload_encoding_keeps_vietnamese_and_scrubs_secrets() -> None:
    secret = Secret("pw-that-leaked-9")
    data = encode({"name": "Huyện Lương Tài", "reason": f"auth {secret.reveal()}", "at": NOW})
    assert "Huyện Lương Tài".encode() in data
    assert b"pw-that-leaked-9" not in data
    assert json.loads(data)["at"] == str(NOW)


@pytest.mark.parametrize("url", ["http://x", "mqtt://", "mqtt://u:hunter2@host"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_url(url)
    assert "hunter2" not in str(err.value)


# ---------------------------------------------------------------------------- anonymous


async def test_retained_state_valid_and_vietnamese(
    tmp_path: Path, profile_for: Callable[..., LoadedProfile]
) -> None:
    loaded = profile_for()
    store = StateStore(clock=lambda: NOW)
    store.seed(loaded.profile)
    with mosquitto(tmp_path / "b") as broker:
        feed = await started(MqttFeed(loaded, store, url=broker.url(), clock=lambda: NOW))
        live = Recorder(broker.port, [f"{PREFIX}/#"])
        try:
            store.update_point("tien-du", phase=PointPhase.IN_SESSION, packet_loss_pct=0.4)
            store.update_device("tien-du.cam1", health=HealthState.DEGRADED, reason="lệch preset")
            store.set_session(
                SessionState(
                    SessionPhase.BRINGUP,
                    "bi-thu-2026-12",
                    "Bí thư Tỉnh ủy tiếp công dân định kỳ",
                    starts_at=NOW + dt.timedelta(minutes=15),
                    recording=True,
                )
            )
            store.set_last_drill({"ok": True, "points": {"tien-du": "ok"}})
            store.event("drill-started", by="scheduler")
            await wait(live, lambda m: any(t.endswith("/events") for t, *_ in m))
            new = Recorder(broker.port, [f"{PREFIX}/#"])
            try:
                await wait(new, lambda m: len(retained_points(m)) == 9)
                await wait(new, lambda m: any(t.endswith("/drill/last") for t, *_ in m))
                assert retained_points(new.messages) == set(POINTS)
                point = new.latest(f"{PREFIX}/point/tien-du")
                assert isinstance(point, dict)
                assert point["name"] == "Huyện Tiên Du"
                assert (point["phase"], point["phase_label"]) == ("in-session", "Đang họp")
                assert point["recording_label"] == "Đang ghi hình"  # the session records
                raw = next(p for t, p, *_ in new.messages if t == f"{PREFIX}/point/tien-du")
                assert "Tiên Du".encode() in raw  # UTF-8, not \\u-escaped
                session = new.latest(f"{PREFIX}/session")
                assert isinstance(session, dict)
                assert session["countdown_s"] == 900
                device = new.latest(f"{PREFIX}/device/tien-du/cam1")
                assert isinstance(device, dict)
                assert (device["health"], device["reason"]) == ("degraded", "lệch preset")
                assert new.latest(f"{PREFIX}/status") == "online"
                # events are not retained: the late subscriber must not get one
                assert not any(t.endswith("/events") for t, *_ in new.messages)
                checked = validate_all(live.messages) + validate_all(new.messages)
                assert checked > 2 * (9 + 25)
            finally:
                new.close()
            await feed.stop()
            await wait(live, lambda m: live.latest(f"{PREFIX}/status") == "offline")
        finally:
            live.close()
            await feed.stop()


async def test_kill9_publisher_sets_offline_within_keepalive(
    tmp_path: Path, profile_for: Callable[..., LoadedProfile]
) -> None:
    loaded = profile_for()
    with mosquitto(tmp_path / "b") as broker:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcu_control.mqtt", "--profile", str(loaded.path)],
            cwd=ROOT,
            env={**os.environ, "MCU_CONTROL_MQTT_URL": broker.url()},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        rec = None
        try:
            assert proc.stdout is not None
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line.startswith(b"connected "), line
            rec = Recorder(broker.port, [f"{PREFIX}/status"])
            await wait(rec, lambda m: rec.latest(f"{PREFIX}/status") == "online")
            t0 = time.monotonic()
            proc.send_signal(signal.SIGKILL)
            await wait(rec, lambda m: rec.latest(f"{PREFIX}/status") == "offline", timeout=5)
            assert time.monotonic() - t0 < loaded.profile.mqtt.keepalive_s
        finally:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            if rec is not None:
                rec.close()


async def test_broker_restart_republishes_all_retained_state(
    tmp_path: Path, profile_for: Callable[..., LoadedProfile]
) -> None:
    loaded = profile_for()
    store = StateStore()
    store.seed(loaded.profile)
    with mosquitto(tmp_path / "b") as broker:  # persistence off: the broker forgets everything
        feed = await started(MqttFeed(loaded, store, url=broker.url()))
        try:
            broker.stop()
            await asyncio.sleep(0.2)
            assert not feed.connected
            store.update_point("que-vo", phase=PointPhase.OFFLINE, reason="mất đường truyền")
            store.event("point-failed", point="que-vo")  # queued while the broker is away
            broker.start()
            live = Recorder(broker.port, [f"{PREFIX}/drill/last", f"{PREFIX}/events"])
            try:  # the drill summary is the last retained topic of a republish, then events
                await wait(live, lambda m: live.latest(f"{PREFIX}/events"), timeout=10)
                event = live.latest(f"{PREFIX}/events")
                assert isinstance(event, dict)
                assert (event["type"], event["point"]) == ("point-failed", "que-vo")
            finally:
                live.close()
            rec = Recorder(broker.port, [f"{PREFIX}/#"])
            try:
                await wait(rec, lambda m: len(retained_points(m)) == 9)
                point = rec.latest(f"{PREFIX}/point/que-vo")
                assert isinstance(point, dict)
                assert (point["phase_label"], point["reason"]) == (
                    "Mất kết nối",
                    "Mất kết nối với điểm cầu",  # room text from the table, not the reason
                )
                assert feed.connects == 2
            finally:
                rec.close()
        finally:
            await feed.stop()


async def test_embedded_broker_speaks_311(profile_for: Callable[..., LoadedProfile]) -> None:
    loaded = profile_for()
    store = StateStore()
    store.seed(loaded.profile)
    broker = EmbeddedBroker()
    await broker.start()
    try:
        assert broker.port > 0
        feed = MqttFeed(loaded, store, url=broker.url, protocol=broker.protocol)
        await started(feed)
        try:
            rec = await asyncio.to_thread(  # the broker runs in this loop: don't block it
                Recorder, broker.port, [f"{PREFIX}/point/+"], protocol=MQTTProtocolVersion.MQTTv311
            )
            try:
                await wait(rec, lambda m: seen_points(m) == set(POINTS))
                assert validate_all(rec.messages) >= 9
            finally:
                rec.close()
        finally:
            await feed.stop()
    finally:
        await broker.stop()


# ---------------------------------------------------------------------------- auth, ACL, TLS


ACL = f"""\
user feed
topic readwrite {PREFIX}/status
topic write {PREFIX}/point/#
topic write {PREFIX}/session
topic write {PREFIX}/drill/#
topic write {PREFIX}/events
topic write {PREFIX}/cmd/+/reply
topic read {PREFIX}/cmd/+

user panel
topic read {PREFIX}/#
"""


async def test_password_and_acl_denied_publish_detected(
    tmp_path: Path,
    profile_for: Callable[..., LoadedProfile],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TEST_MQTT_PW", "s3cret-feed-pw")
    loaded = profile_for(username="feed", password={"env": "TEST_MQTT_PW"})
    store = StateStore()
    store.seed(loaded.profile)
    caplog.set_level(logging.DEBUG)
    with mosquitto(
        tmp_path / "b",
        password={"feed": "s3cret-feed-pw", "panel": "panel-pw"},
        acl=ACL,
    ) as broker:
        feed = await started(MqttFeed(loaded, store, url=broker.url()))
        try:
            rec = Recorder(broker.port, [f"{PREFIX}/#"], username="panel", password="panel-pw")
            try:  # subscribed during the initial republish: some arrive live, not retained
                await wait(rec, lambda m: seen_points(m) == set(POINTS))
                # the device topics are not on the feed user's ACL: 27 refusals
                await until(lambda: len(feed.rejected) >= len(store.devices))
                assert {r.reason_code for r in feed.rejected} == {135}
                assert all("/device/" in r.topic for r in feed.rejected)
                assert not any("/device/" in t for t, *_ in rec.messages)
            finally:
                rec.close()
        finally:
            await feed.stop()
        # a wrong password is reported, not retried silently, and never logged
        monkeypatch.setenv("TEST_MQTT_PW", "wrong-password-xyz")
        bad_profile = profile_for(username="feed", password={"env": "TEST_MQTT_PW"})
        bad = MqttFeed(bad_profile, store, url=broker.url())
        await bad.start()
        try:
            await until(lambda: bad.last_error is not None)
            assert not bad.connected
        finally:
            await bad.stop()
    assert "s3cret-feed-pw" not in caplog.text
    assert "wrong-password-xyz" not in caplog.text


async def test_tls_with_client_certificate(
    tmp_path: Path, profile_for: Callable[..., LoadedProfile]
) -> None:
    pki = make_pki(tmp_path / "b")
    loaded = profile_for(
        ca_file=str(pki["cafile"]),
        client_cert=str(pki["client_cert"]),
        client_key=str(pki["client_key"]),
    )
    store = StateStore()
    store.seed(loaded.profile)
    with mosquitto(tmp_path / "b", tls=pki, require_certificate=True) as broker:
        feed = await started(MqttFeed(loaded, store, url=broker.url("mqtts")))
        try:
            assert feed.connected
            store.update_point("gia-binh", phase=PointPhase.READY)
            # a client without a certificate is refused by the broker
            no_cert_profile = profile_for(ca_file=str(pki["cafile"]))
            no_cert = MqttFeed(no_cert_profile, store, url=broker.url("mqtts"))
            await no_cert.start()
            await asyncio.sleep(0.5)
            assert not no_cert.connected
            await no_cert.stop()
        finally:
            await feed.stop()


async def test_tls_files_need_tls_url(profile_for: Callable[..., LoadedProfile]) -> None:
    loaded = profile_for(ca_file="/nonexistent/ca.pem")
    with pytest.raises(ConfigError, match="not TLS"):
        MqttFeed(loaded, StateStore(), url="mqtt://127.0.0.1:1")


# ---------------------------------------------------------------------------- Home Assistant


async def test_home_assistant_discovery_and_reannounce(
    tmp_path: Path, profile_for: Callable[..., LoadedProfile]
) -> None:
    loaded = profile_for(homeassistant=True)
    store = StateStore()
    store.seed(loaded.profile)
    with mosquitto(tmp_path / "b") as broker:
        feed = await started(MqttFeed(loaded, store, url=broker.url()))
        try:
            rec = Recorder(broker.port, ["homeassistant/+/+/+/config"])
            try:
                await wait(rec, lambda m: len(m) >= 36)
                topics = {t for t, *_ in rec.messages}
                assert len(topics) == 9 * 4
                late = Recorder(broker.port, ["homeassistant/#"])
                try:
                    await wait(late, lambda m: len(m) >= 36)
                    assert all(retain for *_, retain, _p in late.messages)
                finally:
                    late.close()
                assert validate_all(rec.messages) == 36
                phase = rec.latest(
                    "homeassistant/sensor/mcu_control_bac-ninh-demo/tien-du_phase/config"
                )
                assert isinstance(phase, dict)
                assert phase["device"]["name"] == "Huyện Tiên Du"
                assert phase["state_topic"] == f"{PREFIX}/point/tien-du"
                kinds = {t.split("/")[1] for t in topics}
                assert kinds == {"sensor", "binary_sensor"}
                seen = len(rec.messages)
                rec.client.publish("homeassistant/status", "online", qos=1)
                await wait(rec, lambda m: len(m) >= seen + 36)
            finally:
                rec.close()
        finally:
            await feed.stop()


# ---------------------------------------------------------------------------- commands


async def test_commands_allowed_refused_malformed_and_audited(
    tmp_path: Path, profile_for: Callable[..., LoadedProfile]
) -> None:
    loaded = profile_for(commands={"enabled": True, "allow": ["drill", "camera-preset"]})
    store = StateStore()
    store.seed(loaded.profile)
    calls: list[tuple[str, dict[str, Any]]] = []

    async def drill(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(("drill", params))
        return {"ok": True, "points": 9}

    async def teardown(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(("teardown", params))
        return {}

    async def preset(params: dict[str, Any]) -> dict[str, Any]:
        raise KeyError(params.get("point"))

    audit = AuditLog(tmp_path / "audit.jsonl")
    router = {"drill": drill, "teardown": teardown, "camera-preset": preset}
    with mosquitto(tmp_path / "b") as broker:
        feed = await started(
            MqttFeed(loaded, store, url=broker.url(), audit=audit, commands=router)
        )
        rec = Recorder(broker.port, [f"{PREFIX}/cmd/+/reply", "clients/panel-1/replies"])
        try:

            def reply(req_id: str | None, topic_end: str = "/reply") -> Any:
                def find(msgs: list[Any]) -> Any:
                    for topic, payload, *_ in msgs:
                        if topic.endswith(topic_end):
                            body = json.loads(payload)
                            if body["id"] == req_id:
                                return body
                    return None

                return find

            def send(action: str, payload: bytes | str, props: Properties | None = None) -> None:
                rec.client.publish(f"{PREFIX}/cmd/{action}", payload, qos=1, properties=props)

            send("drill", json.dumps({"id": "r1", "params": {"points": ["tien-du"]}}))
            ok = await wait(rec, reply("r1"))
            assert ok == {"id": "r1", "ok": True, "result": {"ok": True, "points": 9}}

            send("teardown", json.dumps({"id": "r2", "params": {}}))
            refused = await wait(rec, reply("r2"))
            assert refused["ok"] is False
            assert refused["error"]["code"] == "not-allowed"

            send("drill", b"{not json")
            bad = await wait(rec, reply(None))
            assert bad["error"]["code"] == "malformed"
            send("drill", json.dumps({"id": "r3", "params": [1, 2]}))
            bad3 = await wait(rec, reply("r3"))
            assert bad3["error"]["code"] == "malformed"

            send("camera-preset", json.dumps({"id": "r4", "params": {"point": "nowhere"}}))
            failed = await wait(rec, reply("r4"))
            assert failed["error"]["code"] == "bad-params"
            assert "unknown point nowhere" in failed["error"]["message"]

            send("drill", '{"id": "r6", "params": {"quick": 1' + "1" * 5000 + "}}")
            huge = await wait(
                rec,
                lambda msgs: next(
                    (
                        json.loads(p)
                        for _t, p, *_ in msgs
                        if b"too long" in p  # its id cannot be read: the reply's id is null
                    ),
                    None,
                ),
            )
            assert (huge["error"]["code"], huge["error"]["kind"]) == ("malformed", "malformed")
            send("drill", json.dumps({"id": "r7", "params": {"quick": "yes", "extra": 1}}))
            typed = await wait(rec, reply("r7"))
            assert typed["error"]["code"] == "bad-params"
            assert "`quick` must be true or false" in typed["error"]["message"]
            assert "`extra` is not a parameter" in typed["error"]["message"]

            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = "clients/panel-1/replies"
            props.CorrelationData = b"corr-42"
            send("drill", json.dumps({"id": "r5"}), props)
            await wait(rec, reply("r5", "clients/panel-1/replies"))
            corr = next(
                getattr(p, "CorrelationData", None)
                for t, _pl, _r, p in rec.messages
                if t == "clients/panel-1/replies"
            )
            assert corr == b"corr-42"

            assert [c[0] for c in calls] == ["drill", "drill"]  # teardown never ran
            assert calls[0][1] == {"points": ["tien-du"], "quick": False}  # typed, defaults in
            validate_all(rec.messages)
            for _t, payload, *_ in rec.messages:  # plain words, never Python's
                error = json.loads(payload).get("error") or {}
                assert not re.search(r"[A-Z]\w*Error|sys\.|Traceback", error.get("message", ""))
            await until(lambda: len(audit.records()) >= 8)
            records = audit.records()
            outcomes = sorted((r["target"], r["data"]["outcome"]) for r in records)
            assert outcomes == sorted(
                [
                    ("drill", "ok"),
                    ("teardown", "not-allowed"),
                    ("drill", "malformed"),
                    ("drill", "malformed"),
                    ("camera-preset", "bad-params"),
                    ("drill", "malformed"),
                    ("drill", "bad-params"),
                    ("drill", "ok"),
                ]
            )
            assert all(r["actor"] == "mqtt" for r in records)
            assert audit.verify().ok
        finally:
            rec.close()
            await feed.stop()


async def test_a_device_timeout_is_failed_with_its_kind_not_a_command_timeout(
    tmp_path: Path, profile_for: Callable[..., LoadedProfile]
) -> None:
    """A silent DSP times out after 0.3 s: not "did not finish in 120 s" (the command's own)."""
    loaded = profile_for(
        commands={"enabled": True, "allow": ["mixer-mute", "drill"], "timeout_s": 120}
    )
    store = StateStore()
    store.seed(loaded.profile)
    sim = TesiraSim(transport="telnet")
    await sim.start()
    mixer = TesiraTelnetMixer(
        "tien-du.mixer",
        host="127.0.0.1",
        port=sim.port,
        commands={
            "get_mute": "{block} get mute {index}",
            "set_mute": "{block} set mute {index} {value}",
        },
        channels={"mic1": ("MicMute", 1)},
        timeout_s=0.3,
    )

    async def mute(params: dict[str, Any]) -> dict[str, Any]:
        await mixer.set_mute("mic1", True)
        return {}

    async def endless(params: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {}

    router = {"mixer-mute": mute, "drill": endless}
    with mosquitto(tmp_path / "b") as broker:
        feed = await started(MqttFeed(loaded, store, url=broker.url(), commands=router))
        rec = Recorder(broker.port, [f"{PREFIX}/cmd/+/reply"])
        try:
            await mixer.connect()
            sim.faults.no_reply = True
            start = time.monotonic()
            params = {"point": "tien-du", "channel": "mic-cong-dan", "muted": True}
            request = {"id": "m1", "params": params}  # valid: the schema is checked first
            rec.client.publish(f"{PREFIX}/cmd/mixer-mute", json.dumps(request), qos=1)
            reply = await wait(rec, lambda msgs: _reply_to(msgs, "m1"))
            assert time.monotonic() - start < 5
            error = reply["error"]
            assert error["code"] == "failed"
            assert error["kind"] == "timeout"
            assert error["device"] == "tien-du.mixer"
            assert error["may_have_applied"] is True
            assert "120" not in error["message"]
            validate_all(rec.messages)
        finally:
            rec.close()
            await feed.stop()
            await mixer.close()
            await sim.stop()

    # the command's own deadline is still a command timeout (1 s, the schema's least)
    short = profile_for(commands={"enabled": True, "allow": ["drill"], "timeout_s": 1})
    with mosquitto(tmp_path / "c") as broker:
        feed = await started(MqttFeed(short, store, url=broker.url(), commands=router))
        rec = Recorder(broker.port, [f"{PREFIX}/cmd/+/reply"])
        try:
            rec.client.publish(f"{PREFIX}/cmd/drill", json.dumps({"id": "d1"}), qos=1)
            reply = await wait(rec, lambda msgs: _reply_to(msgs, "d1"))
            assert reply["error"]["code"] == "timeout"
            assert reply["error"]["kind"] == "timeout"
            assert "device" not in reply["error"]  # no device failed: the command ran out
        finally:
            rec.close()
            await feed.stop()


def _reply_to(msgs: list[Any], req_id: str) -> Any:
    for topic, payload, *_ in msgs:
        if topic.endswith("/reply"):
            body = json.loads(payload)
            if body["id"] == req_id:
                return body
    return None


async def test_commands_off_by_default(
    tmp_path: Path, profile_for: Callable[..., LoadedProfile]
) -> None:
    loaded = profile_for()
    store = StateStore()
    store.seed(loaded.profile)
    calls: list[dict[str, Any]] = []

    async def drill(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        return {}

    with mosquitto(tmp_path / "b") as broker:
        feed = await started(MqttFeed(loaded, store, url=broker.url(), commands={"drill": drill}))
        rec = Recorder(broker.port, [f"{PREFIX}/cmd/#"])
        try:
            rec.client.publish(f"{PREFIX}/cmd/drill", json.dumps({"id": "x"}), qos=1)
            await asyncio.sleep(0.4)
            assert calls == []
            assert not any(t.endswith("/reply") for t, *_ in rec.messages)
        finally:
            rec.close()
            await feed.stop()


async def test_reload_switches_home_assistant_on_without_reconnect(
    tmp_path: Path, profile_for: Callable[..., LoadedProfile]
) -> None:
    loaded = profile_for()
    store = StateStore()
    store.seed(loaded.profile)
    with mosquitto(tmp_path / "b") as broker:
        feed = await started(MqttFeed(loaded, store, url=broker.url()))
        try:
            rec = Recorder(broker.port, ["homeassistant/#"])
            try:
                await asyncio.sleep(0.2)
                assert rec.messages == []
                await feed.reload(profile_for(homeassistant=True))
                await wait(rec, lambda m: len(m) >= 36)
                assert feed.connects == 1  # same broker settings: no reconnect
            finally:
                rec.close()
        finally:
            await feed.stop()


async def test_reload_clears_a_removed_point(
    tmp_path: Path,
    profile_for: Callable[..., LoadedProfile],
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    loaded = profile_for()
    store = StateStore()
    store.seed(loaded.profile)
    with mosquitto(tmp_path / "b") as broker:
        feed = await started(MqttFeed(loaded, store, url=broker.url()))
        try:
            first = Recorder(broker.port, [f"{PREFIX}/drill/last"])
            await wait(first, lambda m: m)  # initial republish done
            first.close()
            data = dict(demo_profile_data)
            data["points"] = [p for p in data["points"] if p["id"] != "luong-tai"]
            data["mqtt"] = {"keepalive_s": 5}
            await feed.reload(load_profile(write_profile(data)))
            await asyncio.sleep(0.3)
            late = Recorder(broker.port, [f"{PREFIX}/point/+", f"{PREFIX}/device/+/+"])
            try:
                await wait(late, lambda m: len(seen_points(m)) == 8)
                await asyncio.sleep(0.3)
                assert "luong-tai" not in seen_points(late.messages)
                assert not any("/luong-tai/" in t for t, *_ in late.messages)
            finally:
                late.close()
        finally:
            await feed.stop()
