"""The composed daemon against the rig: supervisors fill the store, the feed publishes, stop is clean."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from devices.health import HealthState
from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from mcu_control.app import EmbeddedBrokerComponent, FeedOptions, build_daemon
from mcu_control.state import PointPhase
from profiles import load_profile

from .conftest import fast


async def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return False


async def test_daemon_supervises_rig_and_publishes(tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt

    loaded = load_profile(write_profile(fast(remap_ports(demo_data())), tmp_path))
    rig = Rig(loaded, load_scenario("mixer-down"))
    await rig.start()
    daemon = build_daemon(
        loaded,
        state_dir=tmp_path,
        feed=FeedOptions(embedded_port=0),
        supervise_interval_s=1.0,
        device_timeout_s=4.0,
    )
    task = asyncio.create_task(daemon.run(install_signals=False))
    received: dict[str, dict[str, object]] = {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)  # type: ignore[attr-defined]
    try:
        store = daemon.store
        assert await _wait(
            lambda: all(d.health is not HealthState.UNKNOWN for d in store.devices.values()), 20
        )
        assert store.devices["tx-tu-son.mixer"].health is HealthState.DOWN
        assert "tx-tu-son.mixer" in store.devices["tx-tu-son.mixer"].reason
        assert store.devices["tien-du.cam1"].health is HealthState.OK
        assert "pan" in store.devices["tien-du.cam1"].details  # full state, not just health
        assert await _wait(lambda: store.points["tien-du"].phase is PointPhase.READY, 10)
        assert await _wait(lambda: store.points["tx-tu-son"].phase is PointPhase.DEGRADED, 10)

        broker = next(c.broker for c in daemon.components if isinstance(c, EmbeddedBrokerComponent))

        def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
            received[msg.topic] = (
                json.loads(msg.payload)
                if msg.payload.startswith(b"{")
                else {"raw": msg.payload.decode()}
            )

        client.on_message = on_message
        client.connect("127.0.0.1", broker.port)
        client.subscribe("mcu-control/#", qos=1)
        client.loop_start()
        prefix = f"mcu-control/{loaded.profile.site.id}"
        assert await _wait(
            lambda: (
                f"{prefix}/point/tx-tu-son" in received
                and len([t for t in received if "/point/" in t]) == 9
            ),
            10,
        ), sorted(received)
        assert received[f"{prefix}/status"] == {"raw": "online"}
        assert received[f"{prefix}/point/tien-du"]["name"] == "Huyện Tiên Du"
    finally:
        client.loop_stop()
        client.disconnect()
        started = time.monotonic()
        daemon.request_stop()
        await asyncio.wait_for(task, 10)
        assert time.monotonic() - started < 5.0
        await rig.stop()
