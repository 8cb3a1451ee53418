"""Home Assistant MQTT discovery: one HA device per bridge point, four entities each."""

from __future__ import annotations

import re
from typing import Any

from mcu_control.mqtt.payloads import OFFLINE, ONLINE, Topics
from profiles.schema import Profile

DISCOVERY_PREFIX = "homeassistant"
HA_STATUS_TOPIC = f"{DISCOVERY_PREFIX}/status"
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def node_id(site_id: str) -> str:
    return _UNSAFE.sub("_", f"mcu_control_{site_id}")


def discovery_messages(profile: Profile, topics: Topics) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, config payload) for every entity of every point."""
    node = node_id(profile.site.id)
    out: list[tuple[str, dict[str, Any]]] = []
    for point in profile.points:
        obj = _UNSAFE.sub("_", point.id)
        device = {
            "identifiers": [f"{node}_{obj}"],
            "name": point.name,
            "manufacturer": "mcu-control",
            "model": "Điểm cầu trung tâm" if point.role == "central" else "Điểm cầu thành phần",
            "suggested_area": point.name,
        }
        common = {
            "state_topic": topics.point(point.id),
            "availability_topic": topics.status,
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "device": device,
        }
        entities: list[tuple[str, str, dict[str, Any]]] = [
            (
                "sensor",
                "phase",
                {
                    "name": "Trạng thái",
                    "value_template": "{{ value_json.phase }}",
                    "json_attributes_topic": topics.point(point.id),
                    "icon": "mdi:video-account",
                },
            ),
            (
                "sensor",
                "packet_loss",
                {
                    "name": "Mất gói",
                    "value_template": "{{ value_json.packet_loss_pct }}",
                    "unit_of_measurement": "%",
                    "state_class": "measurement",
                    "icon": "mdi:lan-disconnect",
                },
            ),
            (
                "binary_sensor",
                "connected",
                {
                    "name": "Đã kết nối",
                    "value_template": "{{ 'ON' if value_json.connected else 'OFF' }}",
                    "device_class": "connectivity",
                },
            ),
            (
                "binary_sensor",
                "recording",
                {
                    "name": "Ghi hình",
                    "value_template": "{{ 'ON' if value_json.recording else 'OFF' }}",
                    "icon": "mdi:record-rec",
                },
            ),
        ]
        for component, key, extra in entities:
            unique = f"{node}_{obj}_{key}"
            topic = f"{DISCOVERY_PREFIX}/{component}/{node}/{obj}_{key}/config"
            out.append((topic, {"unique_id": unique, "object_id": unique, **common, **extra}))
    return out
