"""Sans-IO codec for the Cisco/Codian MCU Remote Management API (XML-RPC, docs/protocols/codian.md).

Pure functions: typed values -> request bytes, response bytes -> structs -> typed results.
Faults map onto the error tree with the vendor's code kept.
"""

from __future__ import annotations

import datetime as dt
import xmlrpc.client
from typing import Any
from xml.parsers.expat import ExpatError

from devices.errors import (
    AlreadyExistsError,
    AuthenticationError,
    DeviceError,
    McuControlError,
    NotFoundError,
    NotSupportedError,
    ProtocolError,
)
from devices.health import Health
from devices.interfaces import (
    CallProtocol,
    CallState,
    Conference,
    ConferenceSpec,
    McuInfo,
    MediaStats,
    Participant,
    ParticipantSpec,
)

Struct = dict[str, Any]

#: faultString per code (docs/protocols/codian.md §7), used when a device sends an empty string
FAULTS: dict[int, str] = {
    1: "method not supported",
    2: "duplicate conference name",
    3: "duplicate participant name",
    4: "no such conference or auto attendant",
    5: "no such participant",
    6: "too many conferences",
    7: "too many participants",
    8: "no conference name or auto attendant id supplied",
    9: "no participant name supplied",
    10: "no participant address supplied",
    11: "invalid start time specified",
    12: "invalid end time specified",
    13: "invalid PIN specified",
    14: "unauthorised",
    15: "insufficient privileges",
    16: "invalid enumerateID value",
    17: "port reservation failure",
    18: "duplicate numeric ID",
    19: "unsupported protocol",
    20: "unsupported participant type",
    201: "operation failed",
}

#: what a fault code means (protocols.md §1.7); the code itself stays in `.code`
_MEANINGS: dict[int, type[DeviceError]] = {
    2: AlreadyExistsError,  # duplicate conference name
    3: AlreadyExistsError,  # duplicate participant name
    4: NotFoundError,  # no such conference or auto attendant
    5: NotFoundError,  # no such participant
    18: AlreadyExistsError,  # duplicate numeric ID
}

_HINTS: dict[int, str] = {
    2: "pick another conference name or destroy the old one",
    3: "remove the participant first or use another name",
    4: "check the conference name (mcu-control mcu conferences)",
    5: "check the participant name (mcu-control mcu participants)",
    13: "a PIN is digits only",
    14: "the MCU does not permit this operation for this account",
    15: "check the MCU user name and password in the profile (the account needs admin rights)",
    16: "the listing changed under us; retry",
}

CALL_STATES: dict[str, CallState] = {s.value: s for s in CallState}

#: disconnectReason values in their documented spelling; matched case-insensitively (docs/protocols/codian.md §6.14)
DISCONNECT_REASONS: tuple[str, ...] = (
    "authenticationFailed",
    "busy",
    "capabilityNegotiationError",
    "destinationUnreachable",
    "disconnectAll",
    "dnsFailed",
    "failedToConnectToServer",
    "gatekeeperEnded",
    "gatekeeperError",
    "gatekeeperForced",
    "gatekeeperRequiredButAbsent",
    "localTeardown",
    "moved",
    "networkError",
    "noAnswer",
    "noGatekeeperForDN",
    "portAllocationExceeded",
    "protocolError",
    "rejected",
    "rejectedImmediately",
    "remoteGatekeeperRefused",
    "remoteGatekeeperUnreachable",
    "remoteGatewayResources",
    "remoteTeardown",
    "serviceUnavailable",
)
_REASONS_BY_LOWER = {r.lower(): r for r in DISCONNECT_REASONS}

_STATUS_VALUES = ("ok", "outOfSpec", "critical")
_HIGH_LOAD_PCT = 90


def encode_call(method: str, params: Struct, *, user: str, password: str) -> bytes:
    """One methodCall whose single param is a struct, credentials added as members (docs/protocols/codian.md §1–§2)."""
    struct = dict(params)
    struct["authenticationUser"] = user
    struct["authenticationPassword"] = password
    text = xmlrpc.client.dumps((struct,), methodname=method, encoding="utf-8", allow_none=False)
    return text.encode("utf-8")


def decode_response(body: bytes, *, device: str, method: str) -> Struct:
    """The result struct of a methodResponse; a fault raises its mapped error, garbage a ProtocolError."""
    try:
        params, _ = xmlrpc.client.loads(body, use_builtin_types=True)
    except xmlrpc.client.Fault as fault:
        raise fault_error(
            fault.faultCode, fault.faultString, device=device, method=method
        ) from None
    except (
        ExpatError,
        xmlrpc.client.ResponseError,
        ValueError,
        TypeError,
        IndexError,
        ArithmeticError,  # <bigdecimal>junk</bigdecimal> raises decimal.InvalidOperation
    ) as exc:
        raise ProtocolError(
            f"malformed XML-RPC answer to {method}: {type(exc).__name__}: {exc}"[:300],
            device=device,
            hint="the device at this address may not be a Codian/Cisco MCU (check driver and port)",
        ) from None
    if len(params) != 1 or not isinstance(params[0], dict):
        raise ProtocolError(
            f"answer to {method} is not a single struct (the API always answers one struct)",
            device=device,
        )
    result: Struct = params[0]
    return result


def fault_error(code: Any, text: Any, *, device: str, method: str) -> McuControlError:
    """Map an XML-RPC fault onto the error tree, keeping the vendor's code."""
    try:
        number = int(code)
    except (TypeError, ValueError, OverflowError):  # a <double>inf</double> faultCode
        number = -1
    phrase = str(text or "") or FAULTS.get(number, "fault")
    message = f"{method} failed: {phrase}"
    hint = _HINTS.get(number)
    if number == 15:
        return AuthenticationError(message, device=device, hint=hint, code=number)
    if number == 1:
        return NotSupportedError(f"{message} (code 1)", device=device, hint=hint)
    meaning = _MEANINGS.get(number, DeviceError)
    return meaning(message, device=device, hint=hint, code=number)


# --------------------------------------------------------------------------- requests


def conference_create_params(spec: ConferenceSpec) -> Struct:
    """conference.create members for `spec` (absent durationSeconds = permanent)."""
    params: Struct = {"conferenceName": spec.name}
    if spec.numeric_id:
        params["numericId"] = spec.numeric_id
    if spec.pin:
        params["pin"] = spec.pin
    if spec.duration_s:
        params["durationSeconds"] = int(spec.duration_s)
    return params


def participant_add_params(conference: str, spec: ParticipantSpec) -> Struct:
    """participant.add members for a by_address dial-out participant."""
    params: Struct = {
        "conferenceName": conference,
        "participantName": spec.name,
        "participantProtocol": spec.protocol.value,
        "participantType": "by_address",
        "address": spec.address,
    }
    if spec.bitrate_kbps:
        params["maxBitRateToMCU"] = int(spec.bitrate_kbps)
        params["maxBitRateFromMCU"] = int(spec.bitrate_kbps)
    if spec.defer_connection:
        params["deferConnection"] = True
    return params


def participant_id(conference: str, name: str, protocol: CallProtocol) -> Struct:
    """The identification members every participant.* call takes (docs/protocols/codian.md §4)."""
    return {
        "conferenceName": conference,
        "participantName": name,
        "participantProtocol": protocol.value,
        "participantType": "by_address",
    }


def enumerate_params(
    *, enumerate_id: str | None = None, last_revision: int | None = None, **extra: Any
) -> Struct:
    """Inputs of a *.enumerate page (docs/protocols/codian.md §5)."""
    params: Struct = dict(extra)
    if enumerate_id is not None:
        params["enumerateID"] = enumerate_id
    if last_revision is not None:
        params["lastRevision"] = int(last_revision)
    return params


# --------------------------------------------------------------------------- results


def parse_device_query(struct: Struct, *, device: str) -> McuInfo:
    """device.query -> McuInfo."""
    try:
        ports = struct.get("totalVideoPorts")
        return McuInfo(
            model=str(struct.get("model", "")),
            software_version=str(struct.get("softwareVersion", "")),
            current_time=_utc(struct.get("currentTime")),
            serial=str(struct.get("serial", "")),
            api_version=str(struct.get("apiVersion", "")),
            total_video_ports=int(ports) if ports is not None else None,
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"device.query: unexpected value: {exc}", device=device) from None


def parse_health(struct: Struct) -> Health:
    """device.health.query -> Health: down when critical or not active, degraded when outOfSpec or load is high."""
    details: dict[str, str | int | float | bool | None] = {
        key: value for key, value in struct.items() if isinstance(value, bool | int | float | str)
    }
    statuses = {
        k: str(struct[k])
        for k in ("fanStatus", "temperatureStatus", "voltagesStatus", "rtcBatteryStatus")
        if k in struct
    }
    operational = str(struct.get("operationalStatus", "active"))
    critical = sorted(k for k, v in statuses.items() if v == "critical")
    if operational != "active":
        return Health.down(f"operational status {operational}", **details)
    if critical:
        return Health.down(f"critical: {', '.join(critical)}", **details)
    problems: list[str] = sorted(k for k, v in statuses.items() if v not in ("ok", ""))
    for key in ("cpuLoad", "mediaLoad"):
        load = struct.get(key)
        if isinstance(load, int | float) and load >= _HIGH_LOAD_PCT:
            problems.append(f"{key} {load}%")
    if problems:
        return Health.degraded(f"out of spec: {', '.join(problems)}", **details)
    return Health.ok("active", **details)


def parse_conference(struct: Struct) -> Conference:
    """One conference.enumerate / conference.status entry -> Conference."""
    unique = struct.get("uniqueId")
    numeric = struct.get("numericId")
    return Conference(
        name=str(struct.get("conferenceName", "")),
        active=bool(struct.get("conferenceActive", False)),
        numeric_id=str(numeric) if numeric not in (None, "") else None,
        unique_id=int(unique) if isinstance(unique, int) else None,
    )


def parse_participant(struct: Struct) -> Participant:
    """One participant.enumerate entry (with currentState/configuredState) -> Participant."""
    cur = _struct(struct.get("currentState"))
    cfg = _struct(struct.get("configuredState"))
    raw_state = str(cur.get("callStateEx") or cur.get("callState") or "dormant")
    state = CALL_STATES.get(raw_state, CallState.DORMANT)
    reason = cur.get("disconnectReason")
    protocol = str(struct.get("participantProtocol", "sip")).lower()
    return Participant(
        name=str(struct.get("participantName", "")),
        conference=str(struct.get("conferenceName", "")),
        protocol=CallProtocol(protocol) if protocol in ("sip", "h323") else CallProtocol.SIP,
        address=str(cfg.get("address") or cur.get("address") or ""),
        call_state=state,
        disconnect_reason=normalise_reason(str(reason))
        if reason and state is CallState.DISCONNECTED
        else None,
        connect_time=_utc(cur.get("connectTime")),
        audio_muted=bool(cur.get("audioRxMuted", False)),
        packet_loss_warning=bool(cur.get("packetLossWarning", False)),
        packet_loss_critical=bool(cur.get("packetLossCritical", False)),
        media=MediaStats(
            audio_rx_codec=str(cur.get("audioRxCodec", "")),
            audio_rx_received=_int(cur.get("audioRxReceived")),
            audio_rx_lost=_int(cur.get("audioRxLost")),
            audio_tx_codec=str(cur.get("audioTxCodec", "")),
            audio_tx_sent=_int(cur.get("audioTxSent")),
            audio_tx_reported_lost=_int(cur.get("audioTxReportedLost")),
            video_rx_codec=str(cur.get("videoRxCodec", "")),
            video_rx_received=_int(cur.get("videoRxReceived")),
            video_rx_lost=_int(cur.get("videoRxLost")),
            video_tx_codec=str(cur.get("videoTxCodec", "")),
            video_tx_sent=_int(cur.get("videoTxSent")),
            video_tx_reported_lost=_int(cur.get("videoTxReportedLost")),
        ),
        display_name=str(cur.get("displayName", "")),
    )


def normalise_reason(reason: str) -> str:
    """The documented spelling of a disconnectReason (2.8 capitalises some: "Busy")."""
    return _REASONS_BY_LOWER.get(reason.lower(), reason)


def _utc(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _struct(value: Any) -> Struct:
    """A member that must be a struct; anything else reads as empty."""
    return value if isinstance(value, dict) else {}
