"""What a room sees: short Vietnamese messages from a fixed table, never a technician's text.

The technician detail (exception text, addresses, OIDs) stays on the device topics and in
the CLI; a point's room message is built only from the words below, keyed by the device's
role and the meaning of its error (`devices.errors` `kind`), so nothing a driver writes can
reach a citizen-facing screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from devices.health import HealthState

if TYPE_CHECKING:
    from mcu_control.state import DeviceState, PointState

#: the device's role as a room reads it, by store `DeviceState.kind`
ROLE_NAMES: Final[dict[str, str]] = {
    "mcu": "Thiết bị điều khiển đa điểm",
    "recorder": "Thiết bị ghi hình",
    "codec": "Thiết bị hội nghị truyền hình",
    "camera": "Camera",
    "mixer": "Bộ xử lý âm thanh",
}

#: what happened, by meaning: an error `kind` (devices/errors.py) or a health state
MEANINGS: Final[dict[str, str]] = {
    "unreachable": "không phản hồi",
    "authentication": "từ chối đăng nhập",
    "fault": "báo lỗi",
    "degraded": "hoạt động không ổn định",
    "not-supported": "không hỗ trợ chức năng được yêu cầu",
}

#: error kinds that all read as "does not answer" to a room
_UNREACHABLE_KINDS: Final = frozenset({"timeout", "transport"})

#: point-level messages (not tied to one device)
PACKET_LOSS: Final = "Đường truyền mất gói"
CALL_DROPPED: Final = "Cuộc gọi bị ngắt"
CALL_UNKNOWN: Final = "Chưa xác định được trạng thái cuộc gọi"
POINT_UNREACHABLE: Final = "Mất kết nối với điểm cầu"
DEGRADED_OTHER: Final = "Chất lượng kết nối suy giảm"

#: a room message shows at most this many device problems (the rest: "và N thiết bị khác")
MAX_PARTS: Final = 2


def meaning_of(device: DeviceState) -> str | None:
    """The room meaning of a device's state (a MEANINGS key), None when it is well."""
    if device.health is HealthState.DOWN:
        kind = device.error_kind
        if kind is None or kind in _UNREACHABLE_KINDS:
            return "unreachable"
        if kind in MEANINGS:
            return kind
        return "fault"
    if device.health is HealthState.DEGRADED:
        return "degraded"
    return None


def device_message(device: DeviceState) -> str:
    """'Bộ xử lý âm thanh không phản hồi' — empty when the device is well."""
    meaning = meaning_of(device)
    if meaning is None:
        return ""
    return f"{ROLE_NAMES.get(device.kind, 'Thiết bị')} {MEANINGS[meaning]}"


def point_message(point: PointState, devices: Iterable[DeviceState]) -> tuple[str, list[str]]:
    """(room message, ids of the devices whose topics hold the technician detail)."""
    from mcu_control.state import PointPhase

    if point.phase in (PointPhase.READY, PointPhase.IN_SESSION, PointPhase.CONNECTING):
        return "", []
    unwell = [(d.id, device_message(d)) for d in devices]
    unwell = [(dev_id, text) for dev_id, text in unwell if text]
    parts: list[str] = []
    lossy = (point.packet_loss_pct or 0) > 0 or point.reason.startswith("packet loss")
    if point.phase is PointPhase.DEGRADED and lossy:
        parts.append(PACKET_LOSS)
    if point.phase is PointPhase.OFFLINE and point.call_state == "disconnected":
        parts.append(CALL_DROPPED)
    for _dev_id, text in unwell:
        if text not in parts:
            parts.append(text)
    if point.phase is PointPhase.UNKNOWN and point.reason.startswith("call state unknown"):
        parts.append(CALL_UNKNOWN)  # the MCU could not say (status.apply_calls)
    if not parts:
        if point.phase is PointPhase.OFFLINE:
            parts.append(POINT_UNREACHABLE)
        elif point.phase is PointPhase.DEGRADED:
            parts.append(DEGRADED_OTHER)
    extra = len(parts) - MAX_PARTS
    text = "; ".join(parts[:MAX_PARTS])
    if extra > 0:
        text += f" và {extra} sự cố khác"
    return text, [dev_id for dev_id, _ in unwell]


def all_messages() -> list[str]:
    """Every message this table can produce (for tests and docs)."""
    out = [f"{role} {what}" for role in ROLE_NAMES.values() for what in MEANINGS.values()]
    out += [PACKET_LOSS, CALL_DROPPED, CALL_UNKNOWN, POINT_UNREACHABLE, DEGRADED_OTHER]
    return out
