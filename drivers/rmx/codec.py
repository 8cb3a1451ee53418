"""Sans-IO codec for the Polycom RMX XML API (protocols.md §2).

Requests are `TRANS_*` documents (`TRANS_COMMON_PARAMS` then `ACTION/<action>`); answers are
`RESPONSE_TRANS_*` documents whose `RETURN_STATUS/ID` is 0 on success. Where protocols.md
marks a detail [U] (status IDs, health and media elements) the element names are the ones
docs/mcu.md lists, and parsing is tolerant: missing elements read as empty.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from devices.errors import AuthenticationError, DeviceError, McuControlError, ProtocolError
from devices.health import Health
from devices.interfaces import (
    CallProtocol,
    CallState,
    Conference,
    ConferenceSpec,
    MediaStats,
    Participant,
    ParticipantSpec,
)

#: nested request content: a mapping is a parent element, a sequence of pairs keeps order
#: and allows repeats, anything else is text (bools as true/false)
Content = Mapping[str, Any] | Sequence[tuple[str, Any]]

PARTY_STATES: dict[str, CallState] = {
    "idle": CallState.DORMANT,
    "waiting_for_dial_in": CallState.DORMANT,
    "stand_by": CallState.DORMANT,
    "secondary": CallState.CONNECTED,
    "connecting": CallState.PROCEEDING,
    "redialing": CallState.PROCEEDING,
    "connected": CallState.CONNECTED,
    "connected_with_problem": CallState.CONNECTED,
    "connected_partialy": CallState.CONNECTED,
    "disconnecting": CallState.DISCONNECTED,
    "disconnected": CallState.DISCONNECTED,
    "deleted_by_operator": CallState.DISCONNECTED,
}

#: DISCONNECTION_CAUSE descriptions -> the Codian reason vocabulary (substring match, in order)
_CAUSES: tuple[tuple[str, str], ...] = (
    ("busy", "busy"),
    ("no_answer", "noAnswer"),
    ("request_timeout", "noAnswer"),
    ("could_not_be_reached", "destinationUnreachable"),
    ("unreachable", "destinationUnreachable"),
    ("disconnected_by_operator", "localTeardown"),
    ("party_hang_up", "remoteTeardown"),
    ("resources_deficiency", "portAllocationExceeded"),
)

LOSS_CRITICAL_RATIO = 0.05
_HIGH_LOAD_PCT = 90


@dataclass(frozen=True, slots=True)
class Tokens:
    mcu_token: str = "0"  # noqa: S105 — "0" is the documented pre-login token
    user_token: str = "0"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Login:
    tokens: Tokens
    product: str
    version: str
    api_number: str = ""


# --------------------------------------------------------------------------- requests


def encode_request(
    trans: str, action: str, content: Content, *, tokens: Tokens, message_id: int
) -> bytes:
    """One TRANS_* document with common params and a single ACTION element."""
    root = ET.Element(trans)
    common = ET.SubElement(root, "TRANS_COMMON_PARAMS")
    ET.SubElement(common, "MCU_TOKEN").text = tokens.mcu_token
    ET.SubElement(common, "MCU_USER_TOKEN").text = tokens.user_token
    ET.SubElement(common, "MESSAGE_ID").text = str(message_id)
    act = ET.SubElement(ET.SubElement(root, "ACTION"), action)
    _fill(act, content)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def login_content(*, host: str, port: int, user: str, password: str) -> list[tuple[str, Any]]:
    """TRANS_MCU / LOGIN parameters (§2)."""
    return [
        ("MCU_IP", [("IP", host), ("LISTEN_PORT", port), ("HOST_NAME", host)]),
        ("USER_NAME", user),
        ("PASSWORD", password),
        ("STATION_NAME", "mcu-control"),
    ]


def reservation_content(spec: ConferenceSpec) -> list[tuple[str, Any]]:
    """TRANS_RES_1 / START / RESERVATION for `spec` (duration 0 = permanent)."""
    seconds = int(spec.duration_s or 0)
    res: list[tuple[str, Any]] = [
        ("NAME", spec.name),
        ("DISPLAY_NAME", spec.name),
        ("NUMERIC_ID", spec.numeric_id or ""),
        ("PASSWORD", spec.pin or ""),
        ("NETWORK", "h323"),
        ("MEDIA", "video_audio"),
        ("TRANSFER_RATE", 1920),
        ("VIDEO_SESSION", "continuous_presence"),
        (
            "DURATION",
            [("HOUR", seconds // 3600), ("MINUTE", seconds % 3600 // 60), ("SECOND", seconds % 60)],
        ),
        ("PERMANENT", seconds == 0),
    ]
    return [("RESERVATION", res)]


def party_content(conf_id: int, spec: ParticipantSpec) -> list[tuple[str, Any]]:
    """TRANS_CONF_1 / ADD_PARTY for a dial-out party (SIP URI, or H.323 IP / alias)."""
    party: list[tuple[str, Any]] = [
        ("NAME", spec.name),
        ("INTERFACE", spec.protocol.value),
        ("CONNECTION", "dial_out"),
    ]
    if spec.protocol is CallProtocol.SIP:
        party += [
            ("SIP_ADDRESS", spec.address.removeprefix("sip:")),
            ("SIP_ADDRESS_TYPE", "uri_type"),
        ]
    elif _is_ip(spec.address):
        party.append(("IP", spec.address))
    else:
        party.append(("ALIAS", [("NAME", spec.address), ("ALIAS_TYPE", "h323_id")]))
    party.append(("VIDEO_BIT_RATE", spec.bitrate_kbps or "automatic"))
    return [("ID", conf_id), ("PARTY", party)]


# --------------------------------------------------------------------------- responses


def decode_response(body: bytes, *, trans: str, device: str) -> ET.Element:
    """The root of a RESPONSE_<trans> document; a non-zero RETURN_STATUS raises its error."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ProtocolError("RMX answer carries a DOCTYPE/ENTITY; refused", device=device)
    try:
        root = ET.fromstring(body)  # noqa: S314 — no DTDs (checked above); expat >= 2.4 caps amplification
    except (ET.ParseError, LookupError, ValueError) as exc:  # LookupError: unknown encoding=
        raise ProtocolError(
            f"malformed XML answer to {trans}: {exc}",
            device=device,
            hint="the device at this address may not be an RMX (check driver and port)",
        ) from None
    expected = f"RESPONSE_{trans}"
    if root.tag != expected:
        raise ProtocolError(f"expected {expected}, got <{root.tag}>", device=device)
    status = root.find("RETURN_STATUS")
    if status is None:
        raise ProtocolError(f"{expected} has no RETURN_STATUS", device=device)
    raw = text(status, "ID")
    try:
        code = int(raw)
    except ValueError:
        raise ProtocolError(f"RETURN_STATUS ID {raw!r} is not a number", device=device) from None
    if code != 0:
        raise status_error(code, text(status, "DESCRIPTION"), device=device, trans=trans)
    return root


def status_error(code: int, description: str, *, device: str, trans: str) -> McuControlError:
    """Map a non-zero RETURN_STATUS onto the error tree, keeping the vendor's ID."""
    lower = description.lower()
    message = f"{trans} failed: {description or 'status ' + str(code)}"
    if (
        "password" in lower
        or "user name" in lower
        or "not authorized" in lower
        or "privilege" in lower
    ):
        return AuthenticationError(
            message,
            device=device,
            code=code,
            hint="check the RMX user name and password in the profile",
        )
    return DeviceError(message, device=device, code=code)


def is_token_error(exc: McuControlError) -> bool:
    """True when the MCU rejected our session tokens (log in again and retry)."""
    return isinstance(exc, DeviceError) and "token" in exc.message.lower()


def parse_login(root: ET.Element, *, device: str) -> Login:
    """ACTION/LOGIN -> tokens, product type and version."""
    login = root.find("ACTION/LOGIN")
    if login is None:
        raise ProtocolError("LOGIN answer has no ACTION/LOGIN", device=device)
    tokens = Tokens(text(login, "MCU_TOKEN"), text(login, "MCU_USER_TOKEN"))
    if not tokens.mcu_token or not tokens.user_token:
        raise ProtocolError("LOGIN answer carries no tokens", device=device)
    version = login.find(".//MCU_VERSION")
    ver = ".".join((c.text or "").strip() for c in version) if version is not None else ""
    return Login(
        tokens=tokens,
        product=text(login, "PRODUCT_TYPE"),
        version=ver,
        api_number=text(login, "API_NUMBER"),
    )


def parse_time(root: ET.Element) -> dt.datetime | None:
    """ACTION/GET_STATE/MCU_TIME (ISO 8601, GMT) -> aware datetime."""
    raw = text(root, "ACTION/GET_STATE/MCU_TIME")
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def parse_health(state: ET.Element, report: ET.Element | None) -> Health:
    """GET_STATE (+ resource report) -> Health: major/shutting down = down, minor or high load = degraded."""
    st = state.find("ACTION/GET_STATE")
    details: dict[str, str | int | float | bool | None] = {}
    mcu_state = text(st, "MCU_STATE/DESCRIPTION") if st is not None else ""
    details["mcuState"] = mcu_state
    hw: dict[str, str] = {}
    if st is not None:
        for item in st.findall("HW_STATUS/*"):
            hw[item.tag.lower()] = (item.text or "").strip()
            details[f"{item.tag.lower()}Status"] = hw[item.tag.lower()]
    if report is not None:
        for item in report.iter("RSRC_REPORT_RMX"):
            kind = text(item, "TYPE") or "video"
            total, used = _int(text(item, "TOTAL")), _int(text(item, "OCCUPIED"))
            details[f"{kind}PortsTotal"] = total
            details[f"{kind}PortsOccupied"] = used
            if kind == "video" and total:
                details["mediaLoad"] = round(100 * used / total)
    if mcu_state in ("shutting_down", "major"):
        return Health.down(f"MCU state {mcu_state}", **details)
    critical = sorted(k for k, v in hw.items() if v == "major")
    if critical:
        return Health.down(f"critical: {', '.join(critical)}", **details)
    problems = sorted(k for k, v in hw.items() if v not in ("normal", ""))
    if mcu_state not in ("normal", ""):
        problems.insert(0, f"MCU state {mcu_state}")
    load = details.get("mediaLoad")
    if isinstance(load, int) and load >= _HIGH_LOAD_PCT:
        problems.append(f"mediaLoad {load}%")
    if problems:
        return Health.degraded(f"out of spec: {', '.join(problems)}", **details)
    return Health.ok(mcu_state or "normal", **details)


def parse_conf_list(root: ET.Element) -> tuple[int | None, bool, list[Conference]]:
    """ACTION/GET_LS/CONF_SUMMARY_LS -> (OBJ_TOKEN, CHANGED, conferences)."""
    ls = root.find("ACTION/GET_LS/CONF_SUMMARY_LS")
    if ls is None:
        return None, True, []
    token_text = text(ls, "OBJ_TOKEN")
    token = _number(token_text)
    changed = text(ls, "CHANGED").lower() != "false"
    confs = []
    for item in ls.findall("CONF_SUMMARY"):
        ident = text(item, "ID")
        confs.append(
            Conference(
                name=text(item, "NAME"),
                active=True,
                numeric_id=text(item, "NUMERIC_ID") or None,
                unique_id=_number(ident, signed=False),
                participant_count=_int(text(item, "NUM_PARTIES"))
                if item.find("NUM_PARTIES") is not None
                else None,
            )
        )
    return token, changed, confs


def parse_new_id(root: ET.Element, *, device: str) -> int:
    """The ID an RMX returns for a new conference (first ID under ACTION)."""
    found = root.find("ACTION//ID")
    ident = _number((found.text or "").strip(), signed=False) if found is not None else None
    if ident is None:
        raise ProtocolError("START answer carries no conference ID", device=device)
    return ident


def parse_parties(root: ET.Element, conference: str) -> list[tuple[int, Participant]]:
    """ACTION/GET/CONFERENCE/ONGOING_PARTY_LIST -> (party ID, Participant) pairs."""
    out = []
    for op in root.findall("ACTION/GET/CONFERENCE/ONGOING_PARTY_LIST/ONGOING_PARTY"):
        party = op.find("PARTY")
        if party is None:
            continue
        ident = _int(text(party, "ID"))
        interface = text(party, "INTERFACE").lower()
        protocol = CallProtocol.H323 if interface == "h323" else CallProtocol.SIP
        if protocol is CallProtocol.SIP:
            sip = text(party, "SIP_ADDRESS")
            address = sip if not sip or sip.startswith("sip") else f"sip:{sip}"
        else:
            address = text(party, "ALIAS/NAME") or text(party, "IP")
        status = text(op, "ONGOING_PARTY_STATUS/DESCRIPTION").lower()
        state = PARTY_STATES.get(status, CallState.DORMANT)
        cause = text(op, "DISCONNECTION_CAUSE/DESCRIPTION")
        media = _media(op)
        rx_ratio = media.rx_loss_ratio
        connected = state is CallState.CONNECTED
        out.append(
            (
                ident,
                Participant(
                    name=text(party, "NAME"),
                    conference=conference,
                    protocol=protocol,
                    address=address,
                    call_state=state,
                    disconnect_reason=normalise_cause(cause)
                    if state is CallState.DISCONNECTED and cause and cause.lower() != "none"
                    else None,
                    connect_time=_iso(text(op, "CONNECT_TIME")),
                    audio_muted=text(op, "AUDIO_MUTE").lower() == "true",
                    packet_loss_warning=connected
                    and (rx_ratio > 0 or status == "connected_with_problem"),
                    packet_loss_critical=connected and rx_ratio > LOSS_CRITICAL_RATIO,
                    media=media,
                    display_name=text(op, "REMOTE_NAME"),
                ),
            )
        )
    return out


def normalise_cause(description: str) -> str:
    """An RMX DISCONNECTION_CAUSE description in the Codian reason vocabulary where one fits."""
    lower = description.lower()
    for needle, reason in _CAUSES:
        if needle in lower:
            return reason
    return description


def text(elem: ET.Element | None, path: str) -> str:
    """Stripped text at `path` under `elem`, '' when absent."""
    if elem is None:
        return ""
    found = elem.find(path)
    return (found.text or "").strip() if found is not None else ""


# --------------------------------------------------------------------------- helpers


def _fill(parent: ET.Element, content: Any) -> None:
    items = content.items() if isinstance(content, Mapping) else content
    for key, value in items:
        child = ET.SubElement(parent, key)
        if isinstance(value, Mapping | list | tuple):
            _fill(child, value)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        else:
            child.text = str(value)


def _media(op: ET.Element) -> MediaStats:
    chans: dict[str, ET.Element] = {}
    for ch in op.findall("MEDIA_STATISTICS/CHANNEL"):
        chans[text(ch, "TYPE")] = ch

    def get(kind: str, field: str) -> int:
        return _int(text(chans.get(kind), field))

    def codec(kind: str) -> str:
        return text(chans.get(kind), "CODEC")

    return MediaStats(
        audio_rx_codec=codec("audio_in"),
        audio_rx_received=get("audio_in", "PACKETS"),
        audio_rx_lost=get("audio_in", "LOST"),
        audio_tx_codec=codec("audio_out"),
        audio_tx_sent=get("audio_out", "PACKETS"),
        audio_tx_reported_lost=get("audio_out", "LOST"),
        video_rx_codec=codec("video_in"),
        video_rx_received=get("video_in", "PACKETS"),
        video_rx_lost=get("video_in", "LOST"),
        video_tx_codec=codec("video_out"),
        video_tx_sent=get("video_out", "PACKETS"),
        video_tx_reported_lost=get("video_out", "LOST"),
    )


def _iso(raw: str) -> dt.datetime | None:
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


_DECIMAL = re.compile(r"-?[0-9]{1,18}")
_UNSIGNED = re.compile(r"[0-9]{1,18}")


def _number(raw: str, *, signed: bool = True) -> int | None:
    """ASCII decimal digits → int; None otherwise (str.isdigit also accepts '²', int() refuses it)."""
    return int(raw) if (_DECIMAL if signed else _UNSIGNED).fullmatch(raw) else None


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        return 0


def _is_ip(address: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
