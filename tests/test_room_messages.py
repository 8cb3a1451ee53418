"""Room panels show a fixed Vietnamese message, never the technician's text (issue 17)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mqtt_support import Recorder, mosquitto

from devices.health import HealthState
from mcu_control.mqtt import MqttFeed
from mcu_control.roomtext import ROLE_NAMES, all_messages
from mcu_control.state import PointPhase, StateStore
from mcu_control.status import derive_phase
from profiles.loader import load_profile

PREFIX = "mcu-control/bac-ninh-demo"
TECH_TEXT = (
    "que-vo.mixer: GET 1.3.6.1.2.1.1.1.0: no answer from 127.0.0.1:22020 within 2 s — check "
    "that the agent is up and reachable on UDP 22020; a wrong community also looks like silence"
)
IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
OID = re.compile(r"\b\d+(?:\.\d+){3,}\b")
#: words without Vietnamese diacritics that the table may use (loan words, Vietnamese words
#: that happen to be plain ASCII); anything else ASCII-only is taken for English
ASCII_VIETNAMESE = {"Camera", "ghi", "suy", "thanh"}


def english_words(text: str) -> list[str]:
    """Plain-ASCII words of `text` that are not on the Vietnamese allow-list."""
    words = re.findall(r"[^\W\d_]+", text)
    return [w for w in words if w.isascii() and w not in ASCII_VIETNAMESE]


def assert_room_text(text: str) -> None:
    assert not IP.search(text), text
    assert not OID.search(text), text
    assert not re.search(r"\d", text.replace(" và ", "")) or re.fullmatch(
        r".* và \d+ sự cố khác", text
    ), text  # the only number a room message may hold: how many more problems
    assert english_words(text) == [], text


def test_every_table_message_is_vietnamese() -> None:
    messages = all_messages()
    assert len(messages) >= len(ROLE_NAMES) * 4
    for text in messages:
        assert_room_text(text)
    assert "Bộ xử lý âm thanh không phản hồi" in messages
    assert "Camera không phản hồi" in messages
    assert "Đường truyền mất gói" in messages
    assert english_words("no answer from the agent") == ["no", "answer", "from", "the", "agent"]


async def test_degraded_point_room_message_over_mosquitto(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    loaded = load_profile(write_profile(demo_profile_data))
    point_id = loaded.profile.points[1].id
    mixer_id = f"{point_id}.{loaded.profile.points[1].mixer.id}"  # type: ignore[union-attr]
    cam_id = f"{point_id}.{loaded.profile.points[1].cameras[0].id}"
    store = StateStore()
    store.seed(loaded.profile)
    for dev in store.devices.values():
        if dev.point == point_id:
            store.update_device(dev.id, health=HealthState.OK, connected=True)
    # what status.read_device stores for an SNMP timeout: the driver's text and its kind
    store.update_device(mixer_id, health=HealthState.DOWN, reason=TECH_TEXT, error_kind="timeout")
    devices = [d for d in store.devices.values() if d.point == point_id]
    phase, reason = derive_phase(None, devices)
    assert phase is PointPhase.DEGRADED
    assert "127.0.0.1" in reason  # the technician text the point used to carry
    store.update_point(point_id, phase=phase, reason=reason)

    with mosquitto(tmp_path / "b") as broker:
        rec = Recorder(broker.port, [f"{PREFIX}/point/#", f"{PREFIX}/device/#"])
        feed = MqttFeed(loaded, store, url=broker.url())
        await feed.start()
        try:
            point_topic = f"{PREFIX}/point/{point_id}"
            mixer_topic = f"{PREFIX}/device/{mixer_id.replace('.', '/')}"
            await asyncio.to_thread(
                rec.wait_for, lambda _m: rec.latest(point_topic) and rec.latest(mixer_topic)
            )
            point = rec.latest(point_topic)
            assert isinstance(point, dict)
            assert point["phase"] == "degraded"
            assert point["reason"] == "Bộ xử lý âm thanh không phản hồi"
            assert point["causes"] == [mixer_id]
            assert_room_text(point["reason"])
            for raw in (TECH_TEXT, "22020", "1.3.6.1", "answer"):
                assert raw not in str(point)
            device = rec.latest(mixer_topic)
            assert isinstance(device, dict)
            assert device["reason"] == TECH_TEXT  # technicians keep the detail
            assert device["error_kind"] == "timeout"

            # a second device failing changes the room message without a point change
            store.update_device(cam_id, health=HealthState.DOWN, reason="x", error_kind="transport")

            def both(_m: object) -> bool:
                latest = rec.latest(point_topic)
                return isinstance(latest, dict) and "Camera không phản hồi" in latest["reason"]

            await asyncio.to_thread(rec.wait_for, both)
            point = rec.latest(point_topic)
            assert isinstance(point, dict)
            assert_room_text(point["reason"])
            assert sorted(point["causes"]) == sorted([mixer_id, cam_id])
        finally:
            await feed.stop()
            rec.close()
