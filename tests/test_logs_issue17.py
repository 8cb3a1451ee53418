"""What the daemon and the feed log: summaries, not floods; normal notices at INFO (issue 17)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mqtt_support import mosquitto

from mcu_control.daemon import Daemon, DaemonConfig
from mcu_control.mqtt import MqttFeed
from mcu_control.state import StateStore
from profiles.loader import load_profile

PREFIX = "mcu-control/bac-ninh-demo"
ACL_WITHOUT_HA = f"""\
user feed
topic readwrite {PREFIX}/#
"""


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "mcu_control.mqtt" and r.levelno >= logging.WARNING and "refused" in r.msg
    ]


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_refused_discovery_publishes_are_one_line_per_reconnect(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TEST_MQTT_PW", "feed-pw")
    demo_profile_data["mqtt"] = {
        "keepalive_s": 5,
        "reconnect_max_s": 1,
        "homeassistant": True,
        "username": "feed",
        "password": {"env": "TEST_MQTT_PW"},
    }
    loaded = load_profile(write_profile(demo_profile_data))
    store = StateStore()
    store.seed(loaded.profile)
    caplog.set_level(logging.INFO)
    with mosquitto(tmp_path / "b", password={"feed": "feed-pw"}, acl=ACL_WITHOUT_HA) as broker:
        feed = MqttFeed(loaded, store, url=broker.url())
        await feed.start()
        try:
            discovery = 4 * len(loaded.profile.points)  # four entities per point
            await until(lambda: len(feed.rejected) >= discovery)
            await until(lambda: len(refusal_lines(caplog)) >= 1)
            await asyncio.sleep(0.5)
            lines = refusal_lines(caplog)
            assert len(lines) == 1, [r.getMessage() for r in lines]
            text = lines[0].getMessage()
            assert f"refused {discovery} publishes" in text
            assert "homeassistant/#" in text

            broker.stop()  # a reconnect republishes everything: one more line, not 36
            broker.start()
            await until(lambda: feed.connects == 2, timeout=15)
            await until(lambda: len(refusal_lines(caplog)) >= 2)
            await asyncio.sleep(0.5)
            assert len(refusal_lines(caplog)) == 2
        finally:
            await feed.stop()


async def test_roles_at_info_and_standby_says_so_once(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mcu_control")
    path = write_profile(demo_profile_data)
    state = tmp_path / "state"
    active = Daemon(
        load_profile(path), state_dir=state, config=DaemonConfig(leader_poll_s=0.05, node_id="a")
    )
    standby = Daemon(
        load_profile(path), state_dir=state, config=DaemonConfig(leader_poll_s=0.05, node_id="b")
    )
    t1 = asyncio.create_task(active.run(install_signals=False))
    t2: asyncio.Task[None] | None = None
    try:
        await until(lambda: active.active)
        t2 = asyncio.create_task(standby.run(install_signals=False))
        await asyncio.sleep(0.5)  # ~10 leader polls
        assert not standby.active
        said = [r for r in caplog.records if "is standby" in r.getMessage()]
        assert len(said) == 1
        assert said[0].levelno == logging.INFO
        assert "node b" in said[0].getMessage()
        assert "daemon.lock" in said[0].getMessage()  # why: which lock another daemon holds
        became = [r for r in caplog.records if "is active" in r.getMessage()]
        assert [r.levelno for r in became] == [logging.INFO]
    finally:
        active.request_stop()
        await t1
        standby.request_stop()
        if t2 is not None:
            await t2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    ]
