"""Topics and payloads of the MQTT feed: pure functions from store records to JSON bytes.

Every payload here has a JSON Schema in docs/schemas/ and is described in docs/mqtt.md.
Labels are the profile's Vietnamese names; JSON is written as UTF-8 (not \\u-escaped).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devices.secrets import redact
from mcu_control.roomtext import point_message
from mcu_control.state import PointPhase, PointState, SessionLink, SessionPhase, SessionState

if TYPE_CHECKING:
    from mcu_control.state import DeviceState

SCHEMA_VERSION = 1

POINT_PHASE_LABELS: dict[str, str] = {
    PointPhase.UNKNOWN: "Chưa rõ",
    PointPhase.READY: "Sẵn sàng",
    PointPhase.CONNECTING: "Đang kết nối",
    PointPhase.IN_SESSION: "Đang họp",
    PointPhase.DEGRADED: "Suy giảm",
    PointPhase.OFFLINE: "Mất kết nối",
}
SESSION_PHASE_LABELS: dict[str, str] = {
    SessionPhase.IDLE: "Chưa đến giờ họp",
    SessionPhase.DRILL: "Đang kiểm thử",
    SessionPhase.BRINGUP: "Đang chuẩn bị",
    SessionPhase.IN_SESSION: "Đang họp",
    SessionPhase.TEARDOWN: "Đang kết thúc",
}
HEALTH_LABELS: dict[str, str] = {
    "ok": "Bình thường",
    "degraded": "Suy giảm",
    "down": "Mất kết nối",
    "unknown": "Chưa rõ",
}
RECORDING_LABELS = {True: "Đang ghi hình", False: "Không ghi hình"}
#: the panel's row for the national link (issue 18), and each link phase as people read it
UPSTREAM_LABEL = "Kết nối Trụ sở Tiếp công dân Trung ương"
LINK_PHASE_LABELS: dict[str, str] = {
    "planned": "Chưa kết nối",
    "connecting": "Đang kết nối",
    "connected": "Đã kết nối",
    "failed": "Kết nối thất bại",
}

ONLINE = "online"
OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one site's feed, under `prefix`."""

    prefix: str

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def session(self) -> str:
        return f"{self.prefix}/session"

    @property
    def drill(self) -> str:
        return f"{self.prefix}/drill/last"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    @property
    def commands(self) -> str:
        """Subscription filter for command requests (one level: the action)."""
        return f"{self.prefix}/cmd/+"

    def point(self, point_id: str) -> str:
        return f"{self.prefix}/point/{point_id}"

    def device(self, device_id: str) -> str:
        """`…/device/<point>/<device>` for a store id `<point>.<device>`."""
        point, _, device = device_id.partition(".")
        return f"{self.prefix}/device/{point}/{device}"

    def command(self, action: str) -> str:
        return f"{self.prefix}/cmd/{action}"

    def reply(self, action: str) -> str:
        return f"{self.prefix}/cmd/{action}/reply"

    def action_of(self, topic: str) -> str | None:
        """The action of a command topic, or None if the topic is not one."""
        head = f"{self.prefix}/cmd/"
        if not topic.startswith(head):
            return None
        rest = topic[len(head) :]
        return rest if rest and "/" not in rest else None


_TOPIC_UNSAFE = re.compile(r"[#+\x00]")


def default_prefix(site_id: str) -> str:
    return f"mcu-control/{site_id}"


def check_prefix(prefix: str) -> str:
    """A usable topic prefix (no wildcards, no leading/trailing slash) or ValueError."""
    cleaned = prefix.strip().strip("/")
    if not cleaned or _TOPIC_UNSAFE.search(cleaned) or cleaned.startswith("$"):
        raise ValueError(
            f"MQTT prefix {prefix!r} is not usable: no wildcards (+ #), no leading $, not empty"
        )
    return cleaned


def encode(payload: dict[str, Any]) -> bytes:
    """UTF-8 JSON (Vietnamese kept as is), with any known secret value scrubbed."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    return redact(text).encode("utf-8")


def point_payload(
    site: str, point: PointState, session: SessionState, devices: Iterable[DeviceState] = ()
) -> dict[str, Any]:
    """What a room panel needs for one bridge point.

    `reason` is the room message (mcu_control/roomtext.py), built from the point's phase and
    its `devices`; the technician detail stays on the device topics named in `causes`.
    """
    recording = point.recording if point.recording is not None else session.recording
    message, causes = point_message(point, devices)
    return {
        "v": SCHEMA_VERSION,
        "site": site,
        "id": point.id,
        "name": point.name,
        "role": point.role,
        "phase": point.phase.value,
        "phase_label": POINT_PHASE_LABELS[point.phase],
        "reason": message,
        "causes": causes,
        "connected": point.phase is PointPhase.IN_SESSION or point.call_state == "connected",
        "call_state": point.call_state,
        "packet_loss_pct": point.packet_loss_pct,
        "recording": recording,
        "recording_label": RECORDING_LABELS[recording],
        "updated_at": _iso(point.updated_at),
    }


def device_payload(site: str, device: DeviceState) -> dict[str, Any]:
    return {
        "v": SCHEMA_VERSION,
        "site": site,
        "id": device.id,
        "point": device.point,
        "device": device.id.partition(".")[2],
        "kind": device.kind,
        "name": device.name,
        "driver": device.driver,
        "health": device.health.value,
        "health_label": HEALTH_LABELS[device.health.value],
        "reason": device.reason,
        "error_kind": device.error_kind,
        "connected": device.connected,
        "link": device.link,
        "details": device.details,
        "checked_at": _iso(device.checked_at),
    }


def session_payload(
    site: str,
    session: SessionState,
    now: dt.datetime,
    *,
    site_name: str = "",
    all_points: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Session phase, the countdown to its start (computed at `now`) and its roster.

    `points` is the session's roster in roster order, or `all_points` when the session names
    none (no session known yet, or a session of every point).
    """
    countdown: int | None = None
    if session.starts_at is not None:
        countdown = max(0, int((session.starts_at - now).total_seconds()))
    return {
        "v": SCHEMA_VERSION,
        "site": site,
        "site_name": site_name,
        "phase": session.phase.value,
        "phase_label": SESSION_PHASE_LABELS[session.phase],
        "session_id": session.session_id,
        "title": session.title,
        "starts_at": _iso(session.starts_at),
        "ends_at": _iso(session.ends_at),
        "countdown_s": countdown,
        "recording": session.recording,
        "recording_label": RECORDING_LABELS[session.recording],
        "points": list(session.points if session.points is not None else all_points),
        "national": session.national,
        "links": [_link(link) for link in session.links],
        "published_at": now.isoformat(),
    }


def _link(link: SessionLink) -> dict[str, Any]:
    label = UPSTREAM_LABEL if link.kind == "upstream" else f"Liên kết {link.name}"
    return {**link.to_dict(), "label": label, "phase_label": LINK_PHASE_LABELS[link.phase]}


def drill_payload(site: str, summary: dict[str, Any] | None, now: dt.datetime) -> dict[str, Any]:
    """The last drill's summary as the orchestrator wrote it (null before the first drill)."""
    return {
        "v": SCHEMA_VERSION,
        "site": site,
        "available": summary is not None,
        "summary": summary,
        "published_at": now.isoformat(),
    }


def event_payload(site: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"v": SCHEMA_VERSION, "site": site, **event}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
