"""The MQTT broker restarts in the middle of a session: the feed reconnects and republishes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from mqtt_support import Recorder, mosquitto

from chaos.conftest import RigFactory
from mcu_control.bringup import bringup
from mcu_control.mqtt import MqttFeed
from mcu_control.supervisor import CallSupervisor, supervisors

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


async def test_broker_restart_mid_session_republishes_in_session_state(
    tmp_path: Path, chaos_rig: RigFactory
) -> None:
    async with chaos_rig() as (site, _rig, loaded):
        report = await bringup(site)
        assert report.connected == 9
        with mosquitto(tmp_path / "broker") as broker:  # persistence off: a restart forgets all
            feed = MqttFeed(loaded, site.store, url=broker.url())
            calls = CallSupervisor(site, interval_s=0.2, timeout_s=2.0)
            devices = supervisors(site, interval_s=0.3, timeout_s=2.0)
            await feed.start()
            try:
                async with asyncio.timeout(10):
                    await feed.wait_connected()
                calls.start()
                for s in devices:
                    s.start()
                broker.stop()
                await _until(lambda: not feed.connected)
                # the session goes on while the broker is away: supervisors keep writing
                site.store.event("broker-chaos", note="broker away")
                await asyncio.sleep(0.6)
                broker.start()
                await _until(lambda: feed.connected, 15.0)
                assert feed.connects == 2

                fresh = Recorder(
                    broker.port, [feed.topics.point(p.id) for p in loaded.profile.points]
                )
                try:
                    points = await asyncio.to_thread(fresh.wait_for, _retained, 10.0)
                finally:
                    fresh.close()
                assert points == {p.id: "in-session" for p in loaded.profile.points}
                assert feed.last_error is None or feed.connected
                assert all(not t.done() for t in feed._tasks), "a feed task died"
            finally:
                for s in devices:
                    await s.stop()
                await calls.stop()
                await feed.stop()


def _retained(messages: list[tuple[str, bytes, bool, Any]]) -> dict[str, str] | None:
    """Point id -> phase from retained messages, once all nine are there."""
    phases = {
        t.rsplit("/", 1)[1]: json.loads(p)["phase"] for t, p, retain, _ in messages if retain and p
    }
    return phases if len(phases) == 9 else None


async def _until(cond: Any, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.05)
