"""Pure conversions between ONVIF (zeep) objects and our typed values; no I/O.

zeep returns `CompoundValue` objects; tests and other callers may pass plain dicts, so
every accessor works on both.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from devices.errors import (
    DeviceBusyError,
    DeviceError,
    InvalidParameterError,
    NotAllowedNowError,
    NotFoundError,
)
from devices.interfaces import ClockReading, Preset, PtzPosition, PtzStatus

#: ONVIF fault subcodes (Core §5.11.2, PTZ service) by meaning; others are a plain DeviceError
FAULT_KINDS: dict[str, type[DeviceError]] = {
    "NoToken": NotFoundError,
    "NoProfile": NotFoundError,
    "NoPTZProfile": NotFoundError,
    "InvalidArgVal": InvalidParameterError,
    "InvalidPosition": InvalidParameterError,
    "InvalidSpeed": InvalidParameterError,
    "InvalidVelocity": InvalidParameterError,
    "TimeoutNotSupported": InvalidParameterError,
    "InvalidPresetName": InvalidParameterError,
    "PresetExist": InvalidParameterError,
    "MovingPTZ": DeviceBusyError,
    "TooManyPresets": NotAllowedNowError,
    "ActionNotSupported": NotAllowedNowError,
}


def fault_error(subcode: str) -> type[DeviceError]:
    """The error class that says what an ONVIF fault subcode means."""
    return FAULT_KINDS.get(subcode, DeviceError)


def get(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or key `name` of a zeep object or dict."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def position(vector: Any) -> PtzPosition | None:
    """PTZVector → generic position; None if the device sent no pan/tilt."""
    pt = get(vector, "PanTilt")
    if pt is None:
        return None
    zoom = get(get(vector, "Zoom"), "x", 0.0)
    return PtzPosition(float(get(pt, "x", 0.0)), float(get(pt, "y", 0.0)), float(zoom or 0.0))


def vector(pos: PtzPosition) -> dict[str, Any]:
    """Generic position → PTZVector request dict."""
    return {"PanTilt": {"x": pos.pan, "y": pos.tilt}, "Zoom": {"x": pos.zoom}}


def velocity(pan: float, tilt: float, zoom: float) -> dict[str, Any]:
    """Velocities −1…1 (clamped) → PTZSpeed request dict."""
    return {"PanTilt": {"x": _unit(pan), "y": _unit(tilt)}, "Zoom": {"x": _unit(zoom)}}


def move_timeout(seconds: float, *, whole_seconds: bool) -> dt.timedelta:
    """ContinuousMove Timeout; rounded up to whole seconds for firmwares that need it."""
    if whole_seconds:
        return dt.timedelta(seconds=max(1, math.ceil(seconds)))
    return dt.timedelta(seconds=max(seconds, 0.001))


def status(obj: Any) -> PtzStatus:
    """PTZStatus → PtzStatus; MoveStatus UNKNOWN or absent → moving None."""
    move = get(obj, "MoveStatus")
    states = {str(s).upper() for s in (get(move, "PanTilt"), get(move, "Zoom")) if s is not None}
    moving: bool | None
    if "MOVING" in states:
        moving = True
    elif states and states <= {"IDLE"}:
        moving = False
    else:
        moving = None
    return PtzStatus(
        position=position(get(obj, "Position")), moving=moving, error=str(get(obj, "Error") or "")
    )


def preset(obj: Any) -> Preset:
    token = get(obj, "token") or get(obj, "_token") or ""
    return Preset(
        token=str(token),
        name=str(get(obj, "Name") or token),
        position=position(get(obj, "PTZPosition")),
    )


def device_time(system_date: Any) -> dt.datetime:
    """SystemDateAndTime.UTCDateTime → aware UTC datetime; ValueError if absent or invalid."""
    utc = get(system_date, "UTCDateTime")
    d, t = get(utc, "Date"), get(utc, "Time")
    if d is None or t is None:
        raise ValueError("SystemDateAndTime carries no UTCDateTime")
    return dt.datetime(
        int(get(d, "Year")),
        int(get(d, "Month")),
        int(get(d, "Day")),
        int(get(t, "Hour")),
        int(get(t, "Minute")),
        int(get(t, "Second")),
        tzinfo=dt.UTC,
    )


def clock_reading(device: dt.datetime, sent: dt.datetime, received: dt.datetime) -> ClockReading:
    """Offset against the midpoint of the round trip; +0.5 s because devices truncate seconds."""
    midpoint = sent + (received - sent) / 2
    offset = (device - midpoint).total_seconds() + 0.5
    return ClockReading(device_time=device, offset_s=offset)


def _unit(value: float) -> float:
    return min(max(float(value), -1.0), 1.0)
