"""Pure conversions between ONVIF (zeep) objects and our typed values; no I/O.

zeep returns `CompoundValue` objects; tests and other callers may pass plain dicts, so
every accessor works on both.

The polled PTZ `GetStatus` (every health read, every settle poll) is also encoded and decoded
here without zeep — `status_request` / `parse_status_reply` — because zeep costs ≈ 2.5 ms of
CPU per call, most of a health read (docs/performance.md). The envelope is what zeep sends
for this operation (SOAP 1.2, WS-Security UsernameToken with PasswordDigest, ONVIF Core §5.12
and docs/protocols/onvif.md §5.5); every other operation still goes through zeep.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

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


# ---------------------------------------------------------------- GetStatus without zeep

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
PTZ_NS = "http://www.onvif.org/ver20/ptz/wsdl"
SCHEMA_NS = "http://www.onvif.org/ver10/schema"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"  # noqa: S105 — a type URI
    "#PasswordDigest"
)
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
GET_STATUS_ACTION = f"{PTZ_NS}/GetStatus"
#: the HTTP headers of a GetStatus request (SOAP 1.2 carries the action in the content type)
GET_STATUS_HEADERS = {
    "Content-Type": f'application/soap+xml; charset=utf-8; action="{GET_STATUS_ACTION}"',
    "SOAPAction": f'"{GET_STATUS_ACTION}"',
}


class SoapFault(Exception):  # noqa: N818 — named after the SOAP element it carries
    """A SOAP 1.2 `Fault` in a reply: its code, subcodes (local names, outermost first), reason."""

    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str) -> None:
        super().__init__(code, subcodes, reason)
        self.code = code
        self.subcodes = subcodes
        self.reason = reason

    @property
    def subcode(self) -> str:
        """The most specific subcode (ONVIF puts the meaning last), else the code."""
        return self.subcodes[-1] if self.subcodes else self.code

    @property
    def refuses_credentials(self) -> bool:
        """`ter:NotAuthorized`, or a fault whose reason says so (what much firmware sends)."""
        return "NotAuthorized" in self.subcodes or "auth" in self.reason.lower()


def created_stamp(when: dt.datetime) -> str:
    """WS-Security `Created`: UTC in the `Z` form, whole seconds (Hikvision refuses `+00:00`)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """PasswordDigest = Base64(SHA-1(nonce ‖ Created ‖ password)), the nonce as raw bytes."""
    raw = nonce + created.encode() + password.encode()
    return base64.b64encode(hashlib.sha1(raw, usedforsecurity=False).digest()).decode()


def status_request(
    profile_token: str, *, username: str, password: str, created: dt.datetime, nonce: bytes
) -> bytes:
    """A PTZ `GetStatus` envelope signed with a UsernameToken digest; `created` is the camera's time."""
    stamp = created_stamp(created)
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Header>'
        f'<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}"><wsse:UsernameToken>'
        f"<wsse:Username>{escape(username)}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">'
        f"{password_digest(nonce, stamp, password)}</wsse:Password>"
        f'<wsse:Nonce EncodingType="{BASE64_BINARY}">{base64.b64encode(nonce).decode()}'
        f"</wsse:Nonce><wsu:Created>{stamp}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security></s:Header>"
        f'<s:Body><GetStatus xmlns="{PTZ_NS}"><ProfileToken>{escape(profile_token)}'
        "</ProfileToken></GetStatus></s:Body></s:Envelope>"
    ).encode()


def parse_status_reply(body: bytes) -> PtzStatus:
    """A `GetStatusResponse` → PtzStatus; SoapFault for a fault, ValueError if neither.

    Namespaces are matched exactly (any prefix); ONVIF's optional parts may be absent.
    """
    try:
        root = ET.fromstring(body)  # noqa: S314 — expat refuses entity expansion bombs
    except ET.ParseError as exc:
        raise ValueError(f"not XML ({exc})") from None
    reply = root.find(f"{{{SOAP_ENV}}}Body")
    if root.tag != f"{{{SOAP_ENV}}}Envelope" or reply is None:
        raise ValueError("not a SOAP 1.2 envelope")
    fault = reply.find(f"{{{SOAP_ENV}}}Fault")
    if fault is not None:
        raise _fault(fault)
    ptz = reply.find(f"{{{PTZ_NS}}}GetStatusResponse/{{{PTZ_NS}}}PTZStatus")
    if ptz is None:
        raise ValueError("the reply carries no GetStatusResponse/PTZStatus")
    tt = f"{{{SCHEMA_NS}}}"
    fields: dict[str, Any] = {"Error": ptz.findtext(f"{tt}Error")}
    pos = ptz.find(f"{tt}Position")
    if pos is not None:
        fields["Position"] = {
            axis.tag.removeprefix(tt): dict(axis.attrib)
            for axis in pos
            if axis.tag in (f"{tt}PanTilt", f"{tt}Zoom")
        }
    move = ptz.find(f"{tt}MoveStatus")
    if move is not None:
        fields["MoveStatus"] = {
            axis: (move.findtext(f"{tt}{axis}") or "").strip() or None
            for axis in ("PanTilt", "Zoom")
        }
    return status(fields)


def _fault(fault: ET.Element) -> SoapFault:
    env = f"{{{SOAP_ENV}}}"
    code_el = fault.find(f"{env}Code")
    code = _local(code_el.findtext(f"{env}Value", "") if code_el is not None else "")
    subcodes: list[str] = []
    sub = code_el.find(f"{env}Subcode") if code_el is not None else None
    while sub is not None:
        subcodes.append(_local(sub.findtext(f"{env}Value", "")))
        sub = sub.find(f"{env}Subcode")
    reason = fault.findtext(f"{env}Reason/{env}Text", "") or ""
    return SoapFault(code or "Fault", tuple(s for s in subcodes if s), reason.strip())


def _local(qname: str) -> str:
    return qname.strip().rsplit(":", 1)[-1]


def _unit(value: float) -> float:
    return min(max(float(value), -1.0), 1.0)
