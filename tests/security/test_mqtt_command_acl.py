"""MQTT commands from a client the broker's ACL does not allow are refused by the broker and never run."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mqtt_support import Recorder, mosquitto
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from mcu_control.mqtt import MqttFeed
from mcu_control.state import StateStore
from profiles import load_profile

PREFIX = "mcu-control/bac-ninh-demo"
CMD = f"{PREFIX}/cmd/drill"
PASSWORDS = {"feed": "feed-pw-31c", "operator": "operator-pw-8d2", "panel": "panel-pw-77a"}
#: packaging/mosquitto/acl.example, cut down: only `operator` may write command topics
ACL = f"""\
user feed
topic readwrite {PREFIX}/status
topic write {PREFIX}/point/#
topic write {PREFIX}/device/#
topic write {PREFIX}/session
topic write {PREFIX}/drill/#
topic write {PREFIX}/events
topic read {PREFIX}/cmd/+
topic write {PREFIX}/cmd/+/reply

user operator
topic read {PREFIX}/#
topic write {PREFIX}/cmd/drill

user panel
topic read {PREFIX}/#
"""


class Publisher:
    """A paho client that publishes QoS 1 and reports the broker's PUBACK reason code."""

    def __init__(self, port: int, user: str, protocol: MQTTProtocolVersion) -> None:
        self.acks: dict[int, int] = {}
        self._cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
        self.client.username_pw_set(user, PASSWORDS[user])
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def publish(self, payload: str, timeout: float = 5.0) -> int:
        """Publish a command; return the PUBACK reason code (0 success, 135 not authorized)."""
        info = self.client.publish(CMD, payload, qos=1)
        with self._cond:
            if not self._cond.wait_for(lambda: info.mid in self.acks, timeout):
                raise AssertionError("no PUBACK from the broker")
            return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._cond:
            self.acks[mid] = int(reason.value)
            self._cond.notify_all()


async def test_command_from_an_unprivileged_client_is_refused_and_never_executed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demo_profile_data: dict[str, Any],
    write_profile: Any,
) -> None:
    monkeypatch.setenv("TEST_FEED_PW", PASSWORDS["feed"])
    data = dict(demo_profile_data)
    data["mqtt"] = {
        "username": "feed",
        "password": {"env": "TEST_FEED_PW"},
        "keepalive_s": 5,
        "reconnect_max_s": 1,
        "commands": {"enabled": True, "allow": ["drill"]},
    }
    loaded = load_profile(write_profile(data))
    store = StateStore()
    store.seed(loaded.profile)
    calls: list[dict[str, Any]] = []

    async def drill(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        return {"ran": True}

    with mosquitto(tmp_path / "b", password=PASSWORDS, acl=ACL) as broker:
        feed = MqttFeed(loaded, store, url=broker.url(), commands={"drill": drill})
        await feed.start()
        replies = Recorder(
            broker.port, [f"{PREFIX}/cmd/+/reply"], username="operator", password="operator-pw-8d2"
        )
        panel5 = Publisher(broker.port, "panel", MQTTProtocolVersion.MQTTv5)
        panel311 = Publisher(broker.port, "panel", MQTTProtocolVersion.MQTTv311)
        operator = Publisher(broker.port, "operator", MQTTProtocolVersion.MQTTv5)
        try:
            async with asyncio.timeout(10):
                await feed.wait_connected()
            body = json.dumps({"id": "evil-1", "params": {"points": ["tien-du"]}})
            assert await asyncio.to_thread(panel5.publish, body) == 135  # not authorized
            await asyncio.to_thread(panel311.publish, body)  # 3.1.1: dropped without a word
            await asyncio.sleep(0.8)  # long enough for the feed to have run it, had it arrived
            assert calls == []
            assert replies.messages == []

            good = json.dumps({"id": "op-1", "params": {"points": ["tien-du"]}})
            assert await asyncio.to_thread(operator.publish, good) == 0
            reply = await asyncio.to_thread(replies.wait_for, lambda m: m, 5.0)
            assert json.loads(reply[0][1]) == {"id": "op-1", "ok": True, "result": {"ran": True}}
            assert calls == [{"points": ["tien-du"], "quick": False}]  # validated, defaults in
            assert all(json.loads(p)["id"] == "op-1" for _t, p, *_ in replies.messages)
        finally:
            for client in (panel5, panel311, operator):
                client.close()
            replies.close()
            await feed.stop()
