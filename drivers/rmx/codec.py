"""Sans-IO codec for the Polycom RMX / RealPresence Collaboration Server XML API.

Wire facts and their sources are in docs/protocols/rmx.md (fact numbers `§n` below refer to
that page). Requests are `TRANS_*` documents (`TRANS_COMMON_PARAMS`, then `ACTION/<action>`);
answers are `RESPONSE_*` documents whose root is fixed per transaction (§10) or
`RESPONSE_GENERAL` for refusals before a handler runs (§12). RMX status numbers are mapped
here, by meaning, onto the error tree; the number stays in `DeviceError.code`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from devices.errors import (
    AlreadyExistsError,
    AuthenticationError,
    DeviceError,
    InvalidParameterError,
    NotAllowedNowError,
    NotFoundError,
    ProtocolError,
)
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
#: and allows repeats, anything else is text (bools as true/false, §44)
Content = Mapping[str, Any] | Sequence[tuple[str, Any]]

GENERAL_ROOT = "RESPONSE_GENERAL"
STATUS_OK = 0
STATUS_IN_PROGRESS = 1
#: not logged in on this TCP connection (§7): log in again on the same connection
NOT_LOGGED_IN = frozenset({65561})


# --------------------------------------------------------------------------- transactions


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction:action pair the RMX routes (§15–16), and what else counts as done."""

    trans: str
    action: str
    #: statuses besides 0 (and warnings) that mean the action was applied or is under way
    done: frozenset[int] = frozenset()

    @property
    def answer_root(self) -> str:
        """`RESPONSE_` + transaction, with the `_1`/`_2` suffix of TRANS_RES/TRANS_CONF cut (§10)."""
        base = re.sub(r"^(TRANS_RES|TRANS_CONF)_[12]$", r"\1", self.trans)
        return f"RESPONSE_{base}"

    @property
    def what(self) -> str:
        return f"{self.trans}/{self.action}"


LOGIN = Transaction("TRANS_MCU", "LOGIN")
LOGOUT = Transaction("TRANS_MCU", "LOGOUT")
GET_STATE = Transaction("TRANS_MCU", "GET_STATE")
GET_TIME = Transaction("TRANS_MCU", "GET_TIME")
GET_CARMEL_REPORT = Transaction("TRANS_RSRC_REPORT", "GET_CARMEL_REPORT")
GET_LS = Transaction("TRANS_CONF_LIST", "GET_LS")
START = Transaction("TRANS_RES_1", "START")
#: terminate answers 1 "In progress" on success (§31); 2503 "Terminating the conference"
#: means someone else already asked for the same end
TERMINATE_CONF = Transaction("TRANS_CONF_2", "TERMINATE_CONF", frozenset({1, 2503}))
GET_CONF = Transaction("TRANS_CONF_2", "GET")
ADD_PARTY = Transaction("TRANS_CONF_1", "ADD_PARTY")
DELETE_PARTY = Transaction("TRANS_CONF_2", "DELETE_PARTY")
SET_CONNECT = Transaction("TRANS_CONF_2", "SET_CONNECT")
SET_AUDIO_VIDEO_MUTE = Transaction("TRANS_CONF_2", "SET_AUDIO_VIDEO_MUTE")
START_RECORDING = Transaction("TRANS_CONF_2", "START_RECORDING")
STOP_RECORDING = Transaction("TRANS_CONF_2", "STOP_RECORDING")
GET_PARTY = Transaction("TRANS_PARTY", "GET")

TRANSACTIONS: tuple[Transaction, ...] = (
    LOGIN,
    LOGOUT,
    GET_STATE,
    GET_TIME,
    GET_CARMEL_REPORT,
    GET_LS,
    START,
    TERMINATE_CONF,
    GET_CONF,
    ADD_PARTY,
    DELETE_PARTY,
    SET_CONNECT,
    SET_AUDIO_VIDEO_MUTE,
    START_RECORDING,
    STOP_RECORDING,
    GET_PARTY,
)


# --------------------------------------------------------------------------- statuses


@dataclass(frozen=True, slots=True)
class StatusMeaning:
    error: type[DeviceError]
    description: str
    hint: str | None = None


#: RMX RETURN_STATUS numbers by meaning (§7, §8, §13, §15, §20, §30–31, §36–40)
STATUSES: dict[int, StatusMeaning] = {
    100: StatusMeaning(
        NotAllowedNowError, "Illegal status", "the participant must be connected first"
    ),
    1002: StatusMeaning(
        NotAllowedNowError,
        "Maximum number of conferences exceeded",
        "end an unused conference on the MCU",
    ),
    1039: StatusMeaning(AlreadyExistsError, "#1039", "the name is taken by a meeting room"),
    1074: StatusMeaning(
        NotAllowedNowError,
        "Operation cannot be performed while current operation is in progress",
        "wait until the participant's call has settled and retry",
    ),
    1178: StatusMeaning(
        AlreadyExistsError, "Conference ID is in use", "pick another numeric_id in the profile"
    ),
    1232: StatusMeaning(AlreadyExistsError, "#1232", "the name is taken by a meeting room"),
    2000: StatusMeaning(
        AlreadyExistsError,
        "Participant name already exists",
        "remove the participant first or use another name",
    ),
    2001: StatusMeaning(
        NotFoundError, "Participant not found", "list them with mcu-control mcu participants"
    ),
    2002: StatusMeaning(InvalidParameterError, "Participant name is missing"),
    2500: StatusMeaning(
        NotFoundError,
        "Conference name or ID does not exist",
        "check the conference name (mcu-control mcu conferences)",
    ),
    2501: StatusMeaning(
        AlreadyExistsError,
        "Display name already exists",
        "pick another conference name or end the old conference",
    ),
    2503: StatusMeaning(NotAllowedNowError, "Terminating the conference"),
    2506: StatusMeaning(NotAllowedNowError, "Maximum number of participants is reached"),
    7000: StatusMeaning(
        NotAllowedNowError,
        "A user with this login name already exists",
        "this connection is already logged in",
    ),
    7003: StatusMeaning(
        AuthenticationError,
        "Invalid Login",
        "check the RMX user name and password in the profile",
    ),
    30011: StatusMeaning(
        NotAllowedNowError,
        "Recording is not enabled for this conference",
        "enable recording (and a recording link) for the conference on the RMX",
    ),
    65538: StatusMeaning(
        InvalidParameterError,
        "#65538",
        "this RMX firmware does not know the transaction; check the driver and firmware version",
    ),
    65561: StatusMeaning(
        AuthenticationError,
        "User not found",
        "the MCU dropped our login session; check the account is not limited or locked",
    ),
    65571: StatusMeaning(InvalidParameterError, "Field value is missing"),
    65576: StatusMeaning(
        InvalidParameterError,
        "Field action is missing or invalid",
        "this RMX firmware does not offer the action; check the driver and firmware version",
    ),
    70022: StatusMeaning(NotFoundError, "#70022", "list them with mcu-control mcu participants"),
}


@dataclass(frozen=True, slots=True)
class Answer:
    """A decoded answer the caller may use: the root, its status and whether it was a warning."""

    root: ET.Element
    status: int
    description: str
    warning: bool


def encode_request(tx: Transaction, content: Content, *, tokens: Tokens, message_id: int) -> bytes:
    """One TRANS_* document: common params (tokens, MESSAGE_ID), then ACTION/<action> (§9)."""
    root = ET.Element(tx.trans)
    common = ET.SubElement(root, "TRANS_COMMON_PARAMS")
    ET.SubElement(common, "MCU_TOKEN").text = tokens.mcu_token
    ET.SubElement(common, "MCU_USER_TOKEN").text = tokens.user_token
    ET.SubElement(common, "MESSAGE_ID").text = str(message_id)
    act = ET.SubElement(ET.SubElement(root, "ACTION"), tx.action)
    _fill(act, content)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def decode_response(body: bytes, *, tx: Transaction, device: str) -> Answer:
    """The answer to `tx`; a refusal raises its mapped error, anything else a ProtocolError."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ProtocolError(f"answer to {tx.what} carries a DOCTYPE/ENTITY; refused", device=device)
    try:
        root = ET.fromstring(body)  # noqa: S314 — no DTDs (checked above); expat >= 2.4 caps amplification
    except (ET.ParseError, LookupError, ValueError) as exc:  # LookupError: unknown encoding=
        raise ProtocolError(
            f"malformed XML answer to {tx.what}: {exc}",
            device=device,
            hint="the device at this address may not be an RMX (check driver and port)",
        ) from None
    if root.tag not in (tx.answer_root, GENERAL_ROOT):
        raise ProtocolError(
            f"unexpected answer <{root.tag[:40]}> to {tx.what} (expected {tx.answer_root})",
            device=device,
            hint="the device at this address may not be an RMX (check driver and port)",
        )
    status = root.find("RETURN_STATUS")
    if status is None:
        raise ProtocolError(f"answer to {tx.what} has no RETURN_STATUS", device=device)
    raw = text(status, "ID")
    code = _number(raw)
    if code is None:
        raise ProtocolError(
            f"answer to {tx.what}: RETURN_STATUS ID {raw[:20]!r} is not a number", device=device
        )
    description = text(status, "DESCRIPTION")
    warning = text(status, "WARNING").lower() == "true"
    if root.tag == GENERAL_ROOT and code == STATUS_OK:
        raise ProtocolError(f"{GENERAL_ROOT} with status OK to {tx.what}", device=device)
    if root.tag != GENERAL_ROOT and (code == STATUS_OK or code in tx.done or warning):
        return Answer(root, code, description, warning)
    raise status_error(code, description, device=device, tx=tx)


def status_error(code: int, description: str, *, device: str, tx: Transaction) -> DeviceError:
    """Map a refusing RETURN_STATUS onto the error tree by meaning, keeping the RMX number."""
    meaning = STATUSES.get(code)
    phrase = description or (meaning.description if meaning else f"#{code}")
    message = f"{tx.what} refused: {phrase[:200]}"
    if meaning is None:
        return DeviceError(
            message,
            device=device,
            code=code,
            hint="an RMX status this driver does not know; see the MCU's event log",
        )
    return meaning.error(message, device=device, code=code, hint=meaning.hint)


def is_not_logged_in(exc: BaseException) -> bool:
    """True when the MCU says this connection has no login session (§7)."""
    return isinstance(exc, DeviceError) and exc.code in NOT_LOGGED_IN


# --------------------------------------------------------------------------- login


@dataclass(frozen=True, slots=True)
class Tokens:
    mcu_token: str = "0"  # noqa: S105 — "0" is the documented pre-login token (§18)
    user_token: str = "0"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Login:
    tokens: Tokens
    product: str
    version: str
    api_number: str = ""
    product_name: str = ""


def login_content(*, host: str, port: int, user: str, password: str) -> list[tuple[str, Any]]:
    """TRANS_MCU / LOGIN parameters (§18)."""
    return [
        ("MCU_IP", [("IP", host), ("LISTEN_PORT", port)]),
        ("USER_NAME", user),
        ("PASSWORD", password),
        ("STATION_NAME", "mcu-control"),
    ]


def parse_login(answer: Answer, *, device: str) -> Login:
    """ACTION/LOGIN -> tokens, product type and version (§19)."""
    login = answer.root.find("ACTION/LOGIN")
    if login is None:
        raise ProtocolError("LOGIN answer has no ACTION/LOGIN", device=device)
    tokens = Tokens(text(login, "MCU_TOKEN"), text(login, "MCU_USER_TOKEN"))
    if not tokens.mcu_token or not tokens.user_token:
        raise ProtocolError("LOGIN answer carries no tokens", device=device)
    version = login.find("VERSION_LIST/MCU_VERSION")
    parts: list[str] = []
    if version is not None:
        tags = ("MAIN", "MAJOR", "MINOR", "INTERNAL")
        parts.extend(text(version, t) for t in tags if version.find(t) is not None)
    return Login(
        tokens=tokens,
        product=text(login, "PRODUCT_TYPE"),
        version=".".join(parts),
        api_number=text(login, "API_NUMBER"),
        product_name=text(login, "MCU_PRODUCT_NAME"),
    )


# --------------------------------------------------------------------------- state and health

#: MCU_STATE ID -> description (§22)
MCU_STATES: dict[int, str] = {
    0: "Startup",
    1: "Normal",
    2: "Disconnected",
    3: "Major",
    4: "Minor",
    5: "Resetting",
    6: "Low memory",
    7: "Diagnostics",
    8: "Critical",
}
_STATE_DOWN = frozenset({2, 3, 5, 8})
_HIGH_LOAD_PCT = 90


def parse_time(answer: Answer) -> dt.datetime | None:
    """ACTION/GET_TIME/MCU_TIME/MCU_BASE_TIME -> aware UTC datetime (§23; read as UTC)."""
    raw = text(answer.root, "ACTION/GET_TIME/MCU_TIME/MCU_BASE_TIME")
    return _iso(raw)


def parse_health(
    state: Answer, clock: Answer | None, report: Answer | None, *, now: dt.datetime | None = None
) -> Health:
    """GET_STATE + GET_TIME + GET_CARMEL_REPORT -> Health (§21–24).

    Major, Critical, Disconnected and Resetting are down; any other state but Normal, or a
    video port load of 90 % or more, is degraded.
    """
    st = state.root.find("ACTION/GET_STATE/MCU_STATE")
    details: dict[str, str | int | float | bool | None] = {}
    state_id = _number(text(st, "ID"))
    desc = text(st, "DESCRIPTION") or MCU_STATES.get(state_id if state_id is not None else -1, "")
    details["mcuState"] = desc
    alarms = _number(text(st, "NUMBER_OF_ACTIVE_ALARMS"))
    if alarms is not None:
        details["activeAlarms"] = alarms
    if clock is not None:
        mcu_time = parse_time(clock)
        if mcu_time is not None:
            details["clockOffsetS"] = round(
                (mcu_time - (now or dt.datetime.now(dt.UTC))).total_seconds(), 1
            )
    if report is not None:
        details.update(parse_ports(report))
    if state_id is None:
        return Health.degraded("GET_STATE carries no MCU state ID", **details)
    if state_id in _STATE_DOWN:
        return Health.down(f"MCU state {desc}", **details)
    problems = [] if state_id == 1 else [f"MCU state {desc}"]
    load = details.get("mediaLoad")
    if isinstance(load, int) and load >= _HIGH_LOAD_PCT:
        problems.append(f"mediaLoad {load}%")
    if problems:
        return Health.degraded(f"out of spec: {', '.join(problems)}", **details)
    return Health.ok(desc or "Normal", **details)


def parse_ports(report: Answer) -> dict[str, str | int | float | bool | None]:
    """RSRC_REPORT_RMX items (audio / video) -> port totals and the video load in % (§24)."""
    out: dict[str, str | int | float | bool | None] = {}
    lists = report.root.findall("ACTION/GET_CARMEL_REPORT/RSRC_REPORT_RMX_LIST")
    for item in (i for lst in lists for i in lst.findall("RSRC_REPORT_RMX")):
        kind = text(item, "RSRC_REPORT_ITEM")
        if kind not in ("audio", "video"):
            continue
        total = _number(text(item, "TOTAL"), signed=False) or 0
        used = _number(text(item, "OCCUPIED"), signed=False) or 0
        out[f"{kind}PortsTotal"] = total
        out[f"{kind}PortsOccupied"] = used
        if kind == "video" and total:
            out["mediaLoad"] = round(100 * used / total)
    return out


# --------------------------------------------------------------------------- conferences


@dataclass(frozen=True, slots=True)
class ConfList:
    """One GET_LS answer (§25–26): the counter, whether anything changed, entries, deletions."""

    token: int | None
    changed: bool
    full: list[Conference]
    unchanged_ids: list[int]
    deleted_ids: list[int]


def reservation_content(spec: ConferenceSpec, *, recording: bool = False) -> list[tuple[str, Any]]:
    """TRANS_RES_1 / START / RESERVATION for `spec`; duration 0 or None = permanent (§28)."""
    seconds = int(spec.duration_s or 0)
    res: list[tuple[str, Any]] = [("NAME", spec.name), ("DISPLAY_NAME", spec.name)]
    if spec.numeric_id:
        res.append(("NUMERIC_ID", spec.numeric_id))
    if spec.pin:
        res.append(("PASSWORD", spec.pin))
    res += [
        ("NETWORK", "h323"),
        ("MEDIA", "video_audio"),
        ("TRANSFER_RATE", "1920"),
    ]
    if seconds:
        res.append(
            (
                "DURATION",
                [
                    ("HOUR", seconds // 3600),
                    ("MINUTE", seconds % 3600 // 60),
                    ("SECOND", seconds % 60),
                ],
            )
        )
    res.append(("PERMANENT", seconds == 0))
    if recording:
        res.append(("ENABLE_RECORDING", True))
    return [("RESERVATION", res)]


def parse_new_id(answer: Answer, *, device: str) -> int:
    """ACTION/START/RESERVATION/ID: the new conference's id (§29)."""
    ident = _number(text(answer.root, "ACTION/START/RESERVATION/ID"), signed=False)
    if ident is None:
        raise ProtocolError("START answer carries no RESERVATION/ID", device=device)
    return ident


def parse_conf_list(answer: Answer) -> ConfList:
    """ACTION/GET_LS/CONF_SUMMARY_LS -> ConfList (§25–27)."""
    ls = answer.root.find("ACTION/GET_LS/CONF_SUMMARY_LS")
    if ls is None:
        return ConfList(None, True, [], [], [])
    token = _number(text(ls, "OBJ_TOKEN"))
    changed = text(ls, "CHANGED").lower() != "false"
    full: list[Conference] = []
    unchanged: list[int] = []
    for item in ls.findall("CONF_SUMMARY"):
        ident = _number(text(item, "ID"), signed=False)
        if ident is None:
            continue
        if text(item, "CONF_CHANGE") == "none" and item.find("NAME") is None:
            unchanged.append(ident)
            continue
        count = _number(text(item, "NUM_PARTIES"), signed=False)
        full.append(
            Conference(
                name=text(item, "NAME"),
                active=True,
                numeric_id=text(item, "NUMERIC_ID") or None,
                unique_id=ident,
                participant_count=count,
            )
        )
    deleted = [
        i
        for i in (_number(text(e, "."), signed=False) for e in ls.findall("DELETED_CONF_LIST/ID"))
        if i is not None
    ]
    return ConfList(token, changed, full, unchanged, deleted)


# --------------------------------------------------------------------------- parties

#: ONGOING_PARTY_STATUS ID -> (description, call state) (§42)
PARTY_STATES: dict[int, tuple[str, CallState]] = {
    0: ("idle", CallState.DORMANT),
    1: ("connected", CallState.CONNECTED),
    2: ("disconnected", CallState.DISCONNECTED),
    3: ("waiting_for_dial_in", CallState.DORMANT),
    4: ("connecting", CallState.PROCEEDING),
    5: ("disconnecting", CallState.DISCONNECTED),
    6: ("connected_partialy", CallState.CONNECTED),
    7: ("deleted_by_operator", CallState.DISCONNECTED),
    8: ("secondary", CallState.CONNECTED),
    9: ("stand_by", CallState.DORMANT),
    10: ("connected_with_problem", CallState.CONNECTED),
    11: ("redialing", CallState.PROCEEDING),
}
_STATE_BY_NAME = dict(PARTY_STATES.values())

#: DISCONNECTION_CAUSE ID -> the project's reason vocabulary (§43; Codian words)
CAUSES: dict[int, str] = {
    1: "remoteTeardown",  # party_hang_up
    2: "localTeardown",  # disconnected_by_operator
    5: "portAllocationExceeded",  # resources_deficiency
    191: "busy",  # h323_call_closed_remote_busy
    192: "remoteTeardown",  # h323_call_closed_normal
    193: "rejected",  # h323_call_closed_remote_reject
    194: "destinationUnreachable",  # h323_call_closed_remote_unreachable
    218: "noAnswer",  # H323_CALL_CLOSED_REMOTE_NO_ANSWER (no string defined)
    254: "remoteTeardown",  # sip_remote_device_ended_the_call
    258: "destinationUnreachable",  # sip_remote_device_could_not_be_reached
    408: "noAnswer",  # sip_request_timeout
    486: "busy",  # sip_busy_here
    600: "busy",  # sip_busy_everywhere
}

LOSS_CRITICAL_RATIO = 0.05


@dataclass(frozen=True, slots=True)
class Party:
    """One ONGOING_PARTY of a conference GET, with its RMX id."""

    id: int
    participant: Participant


@dataclass(frozen=True, slots=True)
class ConfDetail:
    """One TRANS_CONF_2/GET answer (§32)."""

    token: int | None
    changed: bool
    parties: list[Party]
    deleted_ids: list[int]
    recording: str


def party_content(conf_id: int, spec: ParticipantSpec) -> list[tuple[str, Any]]:
    """TRANS_CONF_1 / ADD_PARTY for a dial-out party: SIP URI, or H.323 IP / alias (§33–34)."""
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
        alias_type = "e164" if spec.address.isascii() and spec.address.isdigit() else "323_id"
        party.append(("ALIAS", [("NAME", spec.address), ("ALIAS_TYPE", alias_type)]))
    party.append(("VIDEO_BIT_RATE", spec.bitrate_kbps or "automatic"))
    return [("ID", conf_id), ("PARTY", party)]


def mute_content(conf_id: int, party_id: int, *, audio: bool, video: bool) -> list[tuple[str, Any]]:
    """SET_AUDIO_VIDEO_MUTE with both flags: an absent VIDEO_MUTE copies AUDIO_MUTE (§39)."""
    return [("ID", conf_id), ("PARTY_ID", party_id), ("AUDIO_MUTE", audio), ("VIDEO_MUTE", video)]


def parse_new_party_id(answer: Answer, *, device: str) -> int:
    """ACTION/ADD_PARTY/ID: the new party's id (§36)."""
    ident = _number(text(answer.root, "ACTION/ADD_PARTY/ID"), signed=False)
    if ident is None:
        raise ProtocolError("ADD_PARTY answer carries no ID", device=device)
    return ident


def parse_conference(answer: Answer, conference: str) -> ConfDetail:
    """ACTION/GET/CONFERENCE -> parties (state, cause, mute, VISUAL_NAME), deletions, recording."""
    conf = answer.root.find("ACTION/GET/CONFERENCE")
    if conf is None:
        return ConfDetail(None, True, [], [], "")
    parties = []
    for op in conf.findall("ONGOING_PARTY_LIST/ONGOING_PARTY"):
        party = parse_party(op, conference)
        if party is not None:
            parties.append(party)
    deleted = [
        i
        for i in (_number(text(e, "."), signed=False) for e in conf.findall("DELETED_PARTIES/*"))
        if i is not None
    ]
    return ConfDetail(
        token=_number(text(conf, "OBJ_TOKEN")),
        changed=text(conf, "CHANGED").lower() != "false",
        parties=parties,
        deleted_ids=deleted,
        recording=text(conf, "RECORDING_STATUS"),
    )


def parse_party(op: ET.Element, conference: str, media: MediaStats | None = None) -> Party | None:
    """One ONGOING_PARTY element (§41–43) -> Party; None when it has no usable PARTY/ID."""
    party = op.find("PARTY")
    ident = _number(text(party, "ID"), signed=False)
    if party is None or ident is None:
        return None
    interface = text(party, "INTERFACE").lower()
    protocol = CallProtocol.SIP if interface == "sip" else CallProtocol.H323
    if protocol is CallProtocol.SIP:
        sip = text(party, "SIP_ADDRESS")
        address = sip if not sip or sip.startswith("sip") else f"sip:{sip}"
    else:
        address = text(party, "ALIAS/NAME") or text(party, "IP")
    status_id = _number(text(op, "ONGOING_PARTY_STATUS/ID"))
    status_desc = text(op, "ONGOING_PARTY_STATUS/DESCRIPTION").lower()
    if status_id is not None and status_id in PARTY_STATES:
        status_desc, state = PARTY_STATES[status_id]
    else:
        state = _STATE_BY_NAME.get(status_desc, CallState.DORMANT)
    reason = None
    if state is CallState.DISCONNECTED:
        reason = disconnect_reason(
            _number(text(op, "DISCONNECTION_CAUSE/ID")), text(op, "DISCONNECTION_CAUSE/DESCRIPTION")
        )
    stats = media or MediaStats()
    connected = state is CallState.CONNECTED
    ratio = stats.rx_loss_ratio
    return Party(
        ident,
        Participant(
            name=text(party, "NAME"),
            conference=conference,
            protocol=protocol,
            address=address,
            call_state=state,
            disconnect_reason=reason,
            connect_time=_iso(text(op, "CONNECT_TIME")) if connected else None,
            audio_muted=text(op, "AUDIO_MUTE").lower() == "true",
            packet_loss_warning=connected
            and (ratio > 0 or status_desc == "connected_with_problem"),
            packet_loss_critical=connected and ratio > LOSS_CRITICAL_RATIO,
            media=stats,
            display_name=text(op, "VISUAL_NAME"),
        ),
    )


def disconnect_reason(cause_id: int | None, description: str) -> str | None:
    """A DISCONNECTION_CAUSE in the project's reason words; the RMX string when none fits."""
    if cause_id == 0 or description.lower() == "none":
        return None
    if cause_id is not None and cause_id in CAUSES:
        return CAUSES[cause_id]
    return description or (f"cause {cause_id}" if cause_id is not None else None)


def parse_party_media(answer: Answer) -> MediaStats:
    """TRANS_PARTY/GET -> packet counters of audio/video in/out (§41).

    Each IP_MONITOR_CHANNEL carries a GLOBAL_PARAM {BASIC_PARAM{PROTOCOL, CHANNEL_TYPE},
    NUMBER_OF_PACKETS, PACKET_LOSS}, directly or under ADVANCED_*_IN.
    """
    found: dict[str, tuple[str, int, int]] = {}
    for g in answer.root.iterfind("ACTION/GET/ONGOING_PARTY/IP_MONITOR_CHANNELS//GLOBAL_PARAM"):
        kind = text(g, "BASIC_PARAM/CHANNEL_TYPE")
        if kind not in ("audio_in", "audio_out", "video_in", "video_out") or kind in found:
            continue
        packets = _number(text(g, "NUMBER_OF_PACKETS"), signed=False) or 0
        lost = _number(text(g, "PACKET_LOSS"), signed=False) or 0
        found[kind] = (text(g, "BASIC_PARAM/PROTOCOL"), packets, lost)

    def get(kind: str) -> tuple[str, int, int]:
        return found.get(kind, ("", 0, 0))

    a_in, a_out, v_in, v_out = get("audio_in"), get("audio_out"), get("video_in"), get("video_out")
    return MediaStats(
        audio_rx_codec=a_in[0],
        audio_rx_received=a_in[1],
        audio_rx_lost=a_in[2],
        audio_tx_codec=a_out[0],
        audio_tx_sent=a_out[1],
        audio_tx_reported_lost=a_out[2],
        video_rx_codec=v_in[0],
        video_rx_received=v_in[1],
        video_rx_lost=v_in[2],
        video_tx_codec=v_out[0],
        video_tx_sent=v_out[1],
        video_tx_reported_lost=v_out[2],
    )


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
    """ASCII decimal digits -> int; None otherwise (str.isdigit also accepts '²', int() refuses it)."""
    return int(raw) if (_DECIMAL if signed else _UNSIGNED).fullmatch(raw) else None


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
