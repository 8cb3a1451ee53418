"""A Polycom RMX simulator speaking the XML API, written from docs/protocols/rmx.md.

What it models (fact numbers of that page in brackets):

- `POST` of `TRANS_*` documents to any path [1]; answers are HTTP 200 `application/xml`
  even for refusals [3].
- The login session belongs to the TCP connection [4]: a request on a connection that has
  not logged in answers `RESPONSE_GENERAL` 65561 "User not found" [7], a second LOGIN on a
  logged-in connection 7000 [8], a wrong password 7003 [20]. Tokens are the connection id
  [19] and are not used to find the session [5]. An idle connection is closed after
  `idle_timeout_s` (Apache's KeepAliveTimeout, 15 s on a real RMX [6]).
- Answer roots `RESPONSE_<trans>` with `_1`/`_2` cut for TRANS_RES/TRANS_CONF [10];
  `RESPONSE_GENERAL` with ACTION_TYPE for unknown transactions (65538), unknown actions
  (65576) and anonymous requests [12, 15].
- The routing table of §3 (only the pairs listed there), RMX status numbers, "In progress"
  on TERMINATE_CONF [31], warning 1069 on a duplicate address [36], the party state rules of
  SET_CONNECT [38] and SET_AUDIO_VIDEO_MUTE [39], recording refused with 30011 unless the
  reservation enabled it [40], OBJ_TOKEN change tracking of GET_LS [26], party state IDs
  [42], disconnection causes [43] and packet counters only in TRANS_PARTY/GET [41].

    sim = RmxSim(password="secret", idle_timeout_s=0.5)
    await sim.start()          # sim.port is the bound port
    await sim.stop()

Where the document is silent the choice made here is marked [U] and listed in
docs/protocols/rmx.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import datetime as dt
import ssl
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hil.sim.http_sim import XmlHttpSimulator
from hil.sim.mcu_state import McuState, SimConference, SimFaultError, SimParticipant

#: RETURN_STATUS descriptions (§2, §4–§7); a number without a string renders "#<n>" (§13)
STATUS: dict[int, str] = {
    0: "Status OK",
    1: "In progress",
    100: "Illegal status",
    1002: "Maximum number of conferences exceeded",
    1069: "Participant IP alias already exists",
    1074: "Operation cannot be performed while current operation is in progress",
    1178: "Conference ID is in use",
    2000: "Participant name already exists",
    2001: "Participant not found",
    2002: "Participant name is missing",
    2500: "Conference name or ID does not exist",
    2501: "Display name already exists",
    2503: "Terminating the conference",
    2506: "Maximum number of participants is reached",
    7000: "A user with this login name already exists",
    7003: "Invalid Login",
    30011: "Recording is not enabled for this conference",
    65561: "User not found",
    65571: "Field value is missing",
    65576: "Field action is missing or invalid",
}

#: the transaction:action pairs this simulator routes (§16); other pairs of a known
#: transaction answer 65576, unknown transactions 65538
ROUTES: dict[str, frozenset[str]] = {
    "TRANS_MCU": frozenset({"LOGIN", "LOGOUT", "GET_STATE", "GET_TIME"}),
    "TRANS_CONF_LIST": frozenset({"GET_LS"}),
    "TRANS_RES_1": frozenset({"START"}),
    "TRANS_CONF_1": frozenset({"ADD_PARTY"}),
    "TRANS_CONF_2": frozenset(
        {
            "GET",
            "TERMINATE_CONF",
            "DELETE_PARTY",
            "SET_CONNECT",
            "SET_AUDIO_VIDEO_MUTE",
            "START_RECORDING",
            "STOP_RECORDING",
        }
    ),
    "TRANS_PARTY": frozenset({"GET"}),
    "TRANS_RSRC_REPORT": frozenset({"GET_CARMEL_REPORT"}),
}
#: transactions that exist on a real RMX but whose actions this simulator does not serve
OTHER_TRANSACTIONS = frozenset({"TRANS_RES_2", "TRANS_RECORDING_LINKS_LIST"})
_GET_ACTIONS = frozenset({"GET", "GET_LS", "GET_STATE", "GET_TIME", "GET_CARMEL_REPORT"})

#: MCU_STATE descriptions by ID (§22)
MCU_STATES = {
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
#: ONGOING_PARTY_STATUS IDs (§42)
PARTY_STATUS = {
    "idle": 0,
    "connected": 1,
    "disconnected": 2,
    "waiting_for_dial_in": 3,
    "connecting": 4,
    "disconnecting": 5,
    "connected_partialy": 6,
    "deleted_by_operator": 7,
    "secondary": 8,
    "stand_by": 9,
    "connected_with_problem": 10,
    "redialing": 11,
}
_MAY_DISCONNECT = {0: False, 1: True, 4: True, 6: True, 8: True, 10: True, 11: True}
_MAY_RECONNECT = {2, 9}
_MAY_MUTE = {1, 6, 8, 10}
ALIAS_TYPES = ("none", "323_id", "e164", "url_id", "email_id", "transport_id", "party_number")

#: the call model's reason -> (H.323 cause, SIP cause) as DISCONNECTION_CAUSE (ID, text) (§43)
CAUSES: dict[str, tuple[tuple[int, str], tuple[int, str]]] = {
    "busy": ((191, "h323_call_closed_remote_busy"), (486, "sip_busy_here")),
    # 218 has no string (§43): rendered like a status without one [I]
    "noAnswer": ((218, "#218"), (408, "sip_request_timeout")),
    "destinationUnreachable": (
        (194, "h323_call_closed_remote_unreachable"),
        (258, "sip_remote_device_could_not_be_reached"),
    ),
    "localTeardown": ((2, "disconnected_by_operator"), (2, "disconnected_by_operator")),
    "remoteTeardown": ((1, "party_hang_up"), (254, "sip_remote_device_ended_the_call")),
    "portAllocationExceeded": ((5, "resources_deficiency"), (5, "resources_deficiency")),
    # §43 lists no SIP reject cause: the H.323 one is used for both [U]
    "rejected": (
        (193, "h323_call_closed_remote_reject"),
        (193, "h323_call_closed_remote_reject"),
    ),
}

#: the Codian fault numbers of the shared call model -> RMX status numbers
_FROM_MODEL = {2: 2501, 3: 2000, 4: 2500, 5: 2001, 6: 1002, 7: 2506, 8: 65571, 9: 2002, 18: 1178}

_CONN: contextvars.ContextVar[object | None] = contextvars.ContextVar("rmx_conn", default=None)


class _StatusError(Exception):
    def __init__(self, code: int, detail: str = "", *, general: bool = False) -> None:
        super().__init__(STATUS.get(code, f"#{code}"))
        self.code = code
        self.detail = detail
        self.general = general


@dataclass
class _Session:
    conn_id: int
    user: str
    last_seen: float = field(default_factory=time.monotonic)


class RmxSim(XmlHttpSimulator):
    """One simulated RMX; state is real and advances with time."""

    paths = ("/{tail:.*}",)

    def __init__(
        self,
        *,
        username: str = "POLYCOM",
        password: str = "POLYCOM",
        host: str = "127.0.0.1",
        port: int = 0,
        product: str = "Rmx_1800",
        version: tuple[int, int, int, int] = (8, 6, 7, 48),
        max_video_ports: int = 30,
        max_conferences: int = 200,
        default_dial_latency_s: float = 0.05,
        addresses: dict[str, dict[str, Any]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout_s: float = 15.0,
    ) -> None:
        super().__init__(host=host, port=port, ssl_context=ssl_context)
        self.username = username
        self.password = password
        self.product = product
        self.version = version
        #: Apache KeepAliveTimeout: idle connections (and their sessions) are dropped after it
        self.idle_timeout_s = idle_timeout_s
        self.state = McuState(
            max_video_ports=max_video_ports,
            max_conferences=max_conferences,
            default_dial_latency_s=default_dial_latency_s,
            addresses=addresses,
        )
        self.state.keep_ended_dial_ins = True  # [U] the page does not say when a record goes
        #: GET_STATE override, e.g. {"MCU_STATE": "Minor"} (a description or an ID of §22)
        self.health: dict[str, str] = {}
        #: requests other than LOGIN that arrived on a connection without a session
        self.anonymous_requests = 0
        #: TCP connections that sent at least one request
        self.connections_seen = 0
        #: the most requests one connection had in flight at once
        self.max_in_flight = 0
        self._sessions: dict[object, _Session] = {}
        self._conns: dict[object, int] = {}
        self._in_flight: collections.Counter[object] = collections.Counter()
        self._recording: dict[int, str] = {}  # conference id -> RECORDING_STATUS ("" = disabled)
        self._terminating: dict[int, float] = {}  # conference id -> monotonic due time
        self._deleted: dict[int, int] = {}  # conference id -> list counter at deletion
        self._alias_types: dict[int, str] = {}
        self._created_at: dict[int, int] = {}  # conference id -> list counter at creation
        self._video_muted: dict[int, bool] = {}
        self.terminate_delay_s = 0.0

    # ------------------------------------------------------------------ test knobs

    def set_behaviour(self, address: str, **fields: Any) -> None:
        """How `address` answers a dial: dial_latency_s, outcome, packet_loss_pct."""
        self.state.set_behaviour(address, **fields)

    def apply(self, scenario: dict[str, Any]) -> None:
        """Apply plain scenario data: {"addresses": {addr: behaviour}, "faults": {…}, "health": {…}}."""
        unknown = set(scenario) - {"addresses", "faults", "health"}
        if unknown:
            raise KeyError(f"unknown scenario key(s): {', '.join(sorted(unknown))}")
        for address, fields in (scenario.get("addresses") or {}).items():
            self.set_behaviour(address, **fields)
        self.faults.set(**(scenario.get("faults") or {}))
        self.health.update(scenario.get("health") or {})

    def expire_sessions(self) -> None:
        """Forget every login (as an RMX restart would) while keeping the TCP connections."""
        self._sessions.clear()

    # ------------------------------------------------------------------ HTTP

    async def start(self) -> None:
        """Start serving with the idle timeout as the keep-alive timeout."""
        app = web.Application()
        for path in self.paths:
            app.router.add_route("*", path, self._serve)
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=0.5, keepalive_timeout=self.idle_timeout_s
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = int(server.sockets[0].getsockname()[1])

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(status=405, text="POST only\n")
        conn = request.transport
        if conn not in self._conns:
            self.connections_seen += 1
            self._conns[conn] = self.connections_seen
        self._in_flight[conn] += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight[conn])
        try:
            return await self._answer(request, conn)
        finally:
            self._in_flight[conn] -= 1

    async def _answer(self, request: web.Request, conn: object) -> web.StreamResponse:
        body = await request.read()
        fault = await self._injected_fault(request, "application/xml")
        if fault is not None:
            return fault
        token = _CONN.set(conn)
        try:
            reply = self.handle(body)
        finally:
            _CONN.reset(token)
        return web.Response(body=reply, content_type="application/xml", charset="utf-8")

    # ------------------------------------------------------------------ protocol

    def handle(self, body: bytes) -> bytes:
        """Answer one request body, on the connection of the current request."""
        conn = _CONN.get()
        self._forget_closed()
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            # not well-formed: refused before a handler runs (§12); the number is [U]
            return self._general("", 65576, "unknown_request", detail="not well-formed XML")
        trans = root.tag
        msg_id = _t(root, "TRANS_COMMON_PARAMS/MESSAGE_ID")
        action = _action(root)
        if trans not in ROUTES and trans not in OTHER_TRANSACTIONS:
            return self._general(msg_id, 65538, "unknown_request")
        kind = "get_request" if action is not None and action.tag in _GET_ACTIONS else "set_request"
        if action is None or action.tag not in ROUTES.get(trans, frozenset()):
            return self._general(msg_id, 65576, kind)
        self.calls[f"{trans}/{action.tag}"] += 1
        session = self._sessions.get(conn) if conn is not None else None
        if session is not None and time.monotonic() - session.last_seen > self.idle_timeout_s:
            del self._sessions[conn]  # the keep-alive timeout passed: the session is gone
            session = None
        if (trans, action.tag) != ("TRANS_MCU", "LOGIN") and session is None:
            self.anonymous_requests += 1
            return self._general(msg_id, 65561, kind)
        if session is not None:
            session.last_seen = time.monotonic()
        try:
            if (trans, action.tag) == ("TRANS_MCU", "LOGIN"):
                result = self._login(action, conn, session)
            else:
                self._advance()
                handler = getattr(self, f"_a_{trans}_{action.tag}".lower())
                result = handler(action)
        except _StatusError as st:
            return self._reply(trans, msg_id, st.code, None, detail=st.detail)
        except SimFaultError as fault:
            code = _FROM_MODEL.get(fault.code, 65571)
            return self._reply(trans, msg_id, code, None, detail=fault.text)
        code, element = result if isinstance(result, tuple) else (0, result)
        return self._reply(trans, msg_id, code, element)

    # ------------------------------------------------------------------ actions

    def _login(
        self, a: ET.Element, conn: object, session: _Session | None
    ) -> tuple[int, ET.Element]:
        user = _t(a, "USER_NAME")
        if session is not None and session.user == user:
            raise _StatusError(7000)
        if user != self.username or _t(a, "PASSWORD") != self.password:
            raise _StatusError(7003)
        conn_id = self._conns.get(conn, 0)
        self._sessions[conn] = _Session(conn_id, user)
        out = ET.Element("LOGIN")
        _sub(out, "MCU_TOKEN", conn_id)
        _sub(out, "MCU_USER_TOKEN", conn_id)
        versions = ET.SubElement(out, "VERSION_LIST")
        mcu_version = ET.SubElement(versions, "MCU_VERSION")
        for tag, value in zip(("MAIN", "MAJOR", "MINOR", "INTERNAL"), self.version, strict=True):
            _sub(mcu_version, tag, value)
        _sub(out, "AUTHORIZATION_GROUP", "administrator")
        _sub(out, "API_NUMBER", 2000)
        _sub(out, "PRODUCT_TYPE", self.product)
        _sub(out, "MCU_PRODUCT_NAME", "RPCS " + self.product.removeprefix("Rmx_"))
        _sub(out, "SESSION_TIMEOUT_IN_MINUTES", 0)
        return 0, out

    def _a_trans_mcu_logout(self, _: ET.Element) -> ET.Element:
        self._sessions.pop(_CONN.get(), None)
        return ET.Element("LOGOUT")

    def _a_trans_mcu_get_state(self, _: ET.Element) -> ET.Element:
        raw = self.health.get("MCU_STATE", "1")
        state_id = int(raw) if raw.isdigit() else _state_id(raw)
        out = ET.Element("GET_STATE")
        st = ET.SubElement(out, "MCU_STATE")
        _sub(st, "ID", state_id)
        _sub(st, "DESCRIPTION", MCU_STATES.get(state_id, "Normal"))
        _sub(st, "MPL_SERIAL_NUMBER", "SIM0001")
        _sub(st, "LICENSING_VALIDATION_STATE", "success")
        _sub(st, "NUMBER_OF_ACTIVE_ALARMS", self.health.get("NUMBER_OF_ACTIVE_ALARMS", "0"))
        _sub(st, "NUMBER_OF_CORE_DUMPS", 0)
        _sub(st, "PRODUCT_TYPE", self.product)
        return out

    def _a_trans_mcu_get_time(self, _: ET.Element) -> ET.Element:
        out = ET.Element("GET_TIME")
        t = ET.SubElement(out, "MCU_TIME")
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        _sub(t, "MCU_BASE_TIME", now.isoformat())
        _sub(t, "GMT_OFFSET_SIGN", "+")
        _sub(t, "GMT_OFFSET", 7)
        _sub(t, "IS_NTP", "false")
        return out

    def _a_trans_rsrc_report_get_carmel_report(self, _: ET.Element) -> ET.Element:
        out = ET.Element("GET_CARMEL_REPORT")
        used = self.state.ports_in_use()
        total = self.state.max_video_ports
        lst = ET.SubElement(out, "RSRC_REPORT_RMX_LIST")
        for kind, tot, occ in (("audio", total, 0), ("video", total, used)):
            item = ET.SubElement(lst, "RSRC_REPORT_RMX")
            _sub(item, "RSRC_REPORT_ITEM", kind)
            _sub(item, "TOTAL", tot)
            _sub(item, "OCCUPIED", occ)
            _sub(item, "RESERVED", 0)
            _sub(item, "FREE", tot - occ)
        _sub(lst, "PORT_GAUGE_VALUE", 80)
        hd = ET.SubElement(out, "RSRC_REPORT_RMX_LIST_HD")
        for kind, tot, occ in (("audio", total, 0), ("HD720p30_video", total, used)):
            item = ET.SubElement(hd, "RSRC_REPORT_RMX")
            _sub(item, "RSRC_REPORT_ITEM", kind)
            _sub(item, "TOTAL", tot)
            _sub(item, "OCCUPIED", occ)
            _sub(item, "RESERVED", 0)
            _sub(item, "FREE", tot - occ)
        return out

    def _a_trans_conf_list_get_ls(self, a: ET.Element) -> ET.Element:
        token = _int(_t(a, "OBJ_TOKEN"), -1)
        counter = self.state.revision
        out = ET.Element("GET_LS")
        ls = ET.SubElement(out, "CONF_SUMMARY_LS")
        _sub(ls, "OBJ_TOKEN", counter)
        changed = token < 0 or counter > token
        _sub(ls, "CHANGED", "true" if changed else "false")
        if not changed:
            return out
        for conf in self.state.conferences.values():
            if token < 0 or self._created_at.get(conf.id, 0) > token:
                self._summary(ls, conf, "new")
            elif self._conf_revision(conf) > token:
                self._summary(ls, conf, "update")
            else:
                item = ET.SubElement(ls, "CONF_SUMMARY")
                _sub(item, "ID", conf.id)
                _sub(item, "CONF_CHANGE", "none")
        if token >= 0:
            deleted = [i for i, at in self._deleted.items() if at > token]
            if deleted:
                dl = ET.SubElement(ls, "DELETED_CONF_LIST")
                for ident in deleted:
                    _sub(dl, "ID", ident)
        return out

    def _a_trans_res_1_start(self, a: ET.Element) -> ET.Element:
        res = a.find("RESERVATION")
        if res is None:
            raise _StatusError(65571, "RESERVATION")
        minute, second = _int(_t(res, "DURATION/MINUTE")), _int(_t(res, "DURATION/SECOND"))
        if not (0 <= minute <= 59 and 0 <= second <= 59):
            raise _StatusError(65571, "DURATION")
        duration = _int(_t(res, "DURATION/HOUR")) * 3600 + minute * 60 + second
        if res.find("DURATION") is None:
            duration = 7200  # default 2 h (§28)
        if _t(res, "PERMANENT") == "true":
            duration = 0
        conf = self.state.create_conference(
            _t(res, "NAME"),
            numeric_id=_t(res, "NUMERIC_ID"),
            pin=_t(res, "PASSWORD"),
            duration_s=duration,
        )
        self._created_at[conf.id] = self.state.revision
        self._recording[conf.id] = "stop" if _t(res, "ENABLE_RECORDING") == "true" else ""
        out = ET.Element("START")
        r = ET.SubElement(out, "RESERVATION")
        _sub(r, "OBJ_TOKEN", self.state.revision)
        _sub(r, "CHANGED", "true")
        _sub(r, "NAME", conf.name)
        _sub(r, "ID", conf.id)
        return out

    def _a_trans_conf_2_terminate_conf(self, a: ET.Element) -> tuple[int, ET.Element]:
        conf = self._conf(a)
        if conf.id in self._terminating:
            raise _StatusError(2503)
        self._terminating[conf.id] = time.monotonic() + self.terminate_delay_s
        self._advance()
        return 1, ET.Element("TERMINATE_CONF")  # "In progress" (§31)

    def _a_trans_conf_2_get(self, a: ET.Element) -> ET.Element:
        conf = self._conf(a)
        out = ET.Element("GET")
        c = ET.SubElement(out, "CONFERENCE")
        _sub(c, "OBJ_TOKEN", self.state.revision)
        _sub(c, "CHANGED", "true")
        res = ET.SubElement(c, "RESERVATION")
        _sub(res, "NAME", conf.name)
        _sub(res, "ID", conf.id)
        if conf.numeric_id:
            _sub(res, "NUMERIC_ID", conf.numeric_id)
        parties = self._parties(conf)
        _sub(c, "NUM_CONNECTED_PARTIES", sum(p.state == "connected" for p in parties))
        _sub(c, "RECORDING_STATUS", self._recording.get(conf.id) or "stop")
        lst = ET.SubElement(c, "ONGOING_PARTY_LIST")
        for p in parties:
            self._party(ET.SubElement(lst, "ONGOING_PARTY"), p)
        return out

    def _a_trans_conf_1_add_party(self, a: ET.Element) -> tuple[int, ET.Element]:
        conf = self._conf(a)
        party = a.find("PARTY")
        if party is None:
            raise _StatusError(65571, "PARTY")
        interface = _t(party, "INTERFACE")
        if interface == "sip":
            sip = _t(party, "SIP_ADDRESS")
            address = f"sip:{sip}" if sip and not sip.startswith("sip") else sip
        else:
            address = _t(party, "ALIAS/NAME") or _t(party, "IP")
        if not _t(party, "NAME"):
            raise _StatusError(2002)
        clash = any(p.address == address and p.conference == conf.name for p in self._parties(conf))
        p = self.state.add_participant(
            conf.name,
            _t(party, "NAME"),
            protocol=interface,
            address=address,
            bitrate_kbps=_int(_t(party, "VIDEO_BIT_RATE"), 0),
            defer=_t(party, "CONNECTION") != "dial_out",
        )
        alias_type = _t(party, "ALIAS/ALIAS_TYPE")
        # an invalid enum keeps the default (§35)
        self._alias_types[p.id] = alias_type if alias_type in ALIAS_TYPES else "323_id"
        out = ET.Element("ADD_PARTY")
        _sub(out, "ID", p.id)
        return (1069 if clash else 0), out

    def _a_trans_conf_2_delete_party(self, a: ET.Element) -> ET.Element:
        self.state.remove(self._find_party(a))
        return ET.Element("DELETE_PARTY")

    def _a_trans_conf_2_set_connect(self, a: ET.Element) -> ET.Element:
        connect = _t(a, "CONNECT")
        if connect not in ("true", "false"):
            raise _StatusError(65571, "CONNECT")
        p = self._find_party(a)
        status = PARTY_STATUS[self._status(p)]
        if connect == "true":
            if status not in _MAY_RECONNECT or p.direction == "incoming":  # dial-out only (§38)
                raise _StatusError(1074)
            self.state.connect(p)
        else:
            if not _MAY_DISCONNECT.get(status, False):
                raise _StatusError(1074)
            self.state.disconnect(p)
        return ET.Element("SET_CONNECT")

    def _a_trans_conf_2_set_audio_video_mute(self, a: ET.Element) -> ET.Element:
        conf = self._conf(a)
        ident = _int(_t(a, "PARTY_ID"), -1)
        p = next((p for p in self._parties(conf) if p.id == ident), None)
        if p is None:
            raise _StatusError(70022)
        if PARTY_STATUS[self._status(p)] not in _MAY_MUTE:
            raise _StatusError(100)
        # one variable read twice: an absent VIDEO_MUTE takes AUDIO_MUTE's value (§39)
        audio = _t(a, "AUDIO_MUTE")
        video = _t(a, "VIDEO_MUTE") if a.find("VIDEO_MUTE") is not None else audio
        if audio in ("true", "false"):
            self.state.set_mute(p, audio == "true")
        if video in ("true", "false"):
            self._video_muted[p.id] = video == "true"
        return ET.Element("SET_AUDIO_VIDEO_MUTE")

    def _a_trans_conf_2_start_recording(self, a: ET.Element) -> ET.Element:
        return self._set_recording(a, "recording", "START_RECORDING")

    def _a_trans_conf_2_stop_recording(self, a: ET.Element) -> ET.Element:
        return self._set_recording(a, "stop", "STOP_RECORDING")

    def _a_trans_party_get(self, a: ET.Element) -> ET.Element:
        ident = _int(_t(a, "CONF_ID"), -1)
        conf = next((c for c in self.state.conferences.values() if c.id == ident), None)
        if conf is None:
            raise _StatusError(2500)
        party_id = _int(_t(a, "PARTY_ID"), -1)
        p = next((p for p in self._parties(conf) if p.id == party_id), None)
        if p is None:
            raise _StatusError(2001)
        out = ET.Element("GET")
        op = ET.SubElement(out, "ONGOING_PARTY")
        party = ET.SubElement(op, "PARTY")
        _sub(party, "NAME", p.name)
        _sub(party, "ID", p.id)
        _sub(party, "INTERFACE", p.protocol)
        chans = ET.SubElement(op, "IP_MONITOR_CHANNELS")
        m = self.state.media(p)
        up = p.state == "connected"
        for kind, proto, packets, lost, wrap in (
            ("audio_in", "g7221C_48k", m.audio_rx_received, m.audio_rx_lost, "ADVANCED_AUDIO_IN"),
            ("audio_out", "g7221C_48k", m.audio_tx_sent, m.audio_tx_reported_lost, ""),
            ("video_in", "h264", m.video_rx_received, m.video_rx_lost, "ADVANCED_VIDEO_IN"),
            ("video_out", "h264", m.video_tx_sent, m.video_tx_reported_lost, ""),
        ):
            ch = ET.SubElement(chans, "IP_MONITOR_CHANNEL")
            parent = ET.SubElement(ch, wrap) if wrap else ch
            param = "ADVANCED_AUDIO_PARAM" if kind.startswith("audio") else "ADVANCED_VIDEO_PARAM"
            g = ET.SubElement(ET.SubElement(parent, param), "GLOBAL_PARAM")
            basic = ET.SubElement(g, "BASIC_PARAM")
            _sub(basic, "PROTOCOL", proto if up or packets else "UnknownAlgorithm")
            _sub(basic, "CHANNEL_TYPE", kind)
            _sub(g, "NUMBER_OF_PACKETS", packets)
            _sub(g, "PACKET_LOSS", lost)  # a count [U]
        return out

    # ------------------------------------------------------------------ helpers

    def _set_recording(self, a: ET.Element, status: str, tag: str) -> ET.Element:
        conf = self._conf(a)
        if not self._recording.get(conf.id):
            raise _StatusError(30011)
        self._recording[conf.id] = status
        self.state.revision += 1
        conf.revision = self.state.revision
        return ET.Element(tag)

    def _advance(self) -> None:
        """Advance calls to now and finish terminations that are due."""
        self.state.tick()
        now = time.monotonic()
        for ident, due in list(self._terminating.items()):
            if due <= now:
                del self._terminating[ident]
                conf = next((c for c in self.state.conferences.values() if c.id == ident), None)
                if conf is not None:
                    self.state.destroy_conference(conf.name)
                    self._deleted[ident] = self.state.revision
                    self._recording.pop(ident, None)

    def _forget_closed(self) -> None:
        for conn in [c for c in self._conns if _closed(c)]:
            self._conns.pop(conn, None)
            self._sessions.pop(conn, None)
            self._in_flight.pop(conn, None)

    def _conf(self, a: ET.Element) -> SimConference:
        ident = _int(_t(a, "ID"), -1)
        for conf in self.state.conferences.values():
            if conf.id == ident:
                return conf
        raise _StatusError(2500)

    def _parties(self, conf: SimConference) -> list[SimParticipant]:
        return [p for p in self.state.participants.values() if p.conference == conf.name]

    def _find_party(self, a: ET.Element) -> SimParticipant:
        conf = self._conf(a)
        if a.find("PARTY_ID") is None:
            raise _StatusError(65571, "PARTY_ID")
        ident = _int(_t(a, "PARTY_ID"), -1)
        for p in self._parties(conf):
            if p.id == ident:
                return p
        raise _StatusError(2001)

    def _conf_revision(self, conf: SimConference) -> int:
        return max([conf.revision, *(p.revision for p in self._parties(conf))])

    def _status(self, p: SimParticipant) -> str:
        return {
            "dormant": "idle",
            "proceeding": "connecting",
            "alerting": "connecting",
            "connected": "connected",
            "disconnected": "disconnected",
        }[p.state]

    def _summary(self, parent: ET.Element, conf: SimConference, change: str) -> None:
        item = ET.SubElement(parent, "CONF_SUMMARY")
        _sub(item, "NAME", conf.name)
        _sub(item, "ID", conf.id)
        _sub(item, "CONF_CHANGE", change)
        parties = self._parties(conf)
        status = ET.SubElement(item, "CONF_STATUS")
        _sub(status, "CONF_OK", "true")
        _sub(item, "START_TIME", conf.created_wall.replace(tzinfo=None, microsecond=0).isoformat())
        _sub(item, "NUM_PARTIES", len(parties))
        _sub(item, "NUM_CONNECTED_PARTIES", sum(p.state == "connected" for p in parties))
        if conf.numeric_id:
            _sub(item, "NUMERIC_ID", conf.numeric_id)
        if conf.duration_s:
            d = ET.SubElement(item, "DURATION")
            _sub(d, "HOUR", conf.duration_s // 3600)
            _sub(d, "MINUTE", conf.duration_s % 3600 // 60)
            _sub(d, "SECOND", conf.duration_s % 60)
        _sub(item, "DISPLAY_NAME", conf.name)

    def _party(self, op: ET.Element, p: SimParticipant) -> None:
        _sub(op, "ONGOING_PARTY_CHANGE", "new")
        party = ET.SubElement(op, "PARTY")
        _sub(party, "NAME", p.name)
        _sub(party, "ID", p.id)
        _sub(party, "INTERFACE", p.protocol)
        # a call that arrived shows as dial_in [U: §33 lists dial_out; §38's "dial-out only"
        # implies the other]
        _sub(party, "CONNECTION", "dial_in" if p.direction == "incoming" else "dial_out")
        if p.protocol == "sip":
            _sub(party, "SIP_ADDRESS", p.address.removeprefix("sip:"))
            _sub(party, "SIP_ADDRESS_TYPE", "uri_type")
        elif _is_ip(p.address):
            _sub(party, "IP", p.address)
        else:
            alias = ET.SubElement(party, "ALIAS")
            _sub(alias, "NAME", p.address)
            _sub(alias, "ALIAS_TYPE", self._alias_types.get(p.id, "323_id"))
        status = self._status(p)
        st = ET.SubElement(op, "ONGOING_PARTY_STATUS")
        _sub(st, "ID", PARTY_STATUS[status])
        _sub(st, "DESCRIPTION", status)
        cause = ET.SubElement(op, "DISCONNECTION_CAUSE")
        if p.state == "disconnected" and p.reason:
            pair = CAUSES.get(p.reason)
            ident, text = (pair[0] if p.protocol == "h323" else pair[1]) if pair else (0, "None")
            _sub(cause, "ID", ident)
            _sub(cause, "DESCRIPTION", text)
        else:
            _sub(cause, "ID", 0)
            _sub(cause, "DESCRIPTION", "None")
        _sub(cause, "DESCRIPTION_EX", "")
        if p.connect_wall is not None:
            _sub(op, "CONNECT_TIME", p.connect_wall.replace(tzinfo=None, microsecond=0).isoformat())
        _sub(op, "AUDIO_MUTE", "true" if p.audio_muted else "false")
        _sub(op, "AUDIO_SELF_MUTE", "false")
        _sub(op, "AUDIO_MCU_MUTE", "false")
        _sub(op, "VIDEO_MUTE", "true" if self._video_muted.get(p.id) else "false")
        if p.state == "connected":
            _sub(op, "VISUAL_NAME", p.behaviour.display_name or p.name)

    def _reply(
        self, trans: str, msg_id: str, code: int, result: ET.Element | None, *, detail: str = ""
    ) -> bytes:
        base = trans
        if trans in ("TRANS_RES_1", "TRANS_RES_2"):
            base = "TRANS_RES"
        elif trans in ("TRANS_CONF_1", "TRANS_CONF_2"):
            base = "TRANS_CONF"
        root = ET.Element(f"RESPONSE_{base}")
        warning = code == 1069
        st = ET.SubElement(root, "RETURN_STATUS")
        _sub(st, "ID", code)
        _sub(st, "DESCRIPTION", STATUS.get(code, f"#{code}"))
        _sub(st, "YOUR_TOKEN1", 0)
        _sub(st, "YOUR_TOKEN2", 0)
        if warning:
            _sub(st, "WARNING", "true")
        _sub(st, "MESSAGE_ID", msg_id or 0)
        _sub(st, "DESCRIPTION_EX", detail)
        # the action's content travels only with OK, in-progress or a warning (§11)
        if result is not None and (code in (0, 1) or warning):
            ET.SubElement(root, "ACTION").append(result)
        return _doc(root)

    def _general(self, msg_id: str, code: int, kind: str, *, detail: str = "") -> bytes:
        root = ET.Element("RESPONSE_GENERAL")
        st = ET.SubElement(root, "RETURN_STATUS")
        _sub(st, "ID", code)
        _sub(st, "DESCRIPTION", STATUS.get(code, f"#{code}"))
        _sub(st, "YOUR_TOKEN1", 0)
        _sub(st, "YOUR_TOKEN2", 0)
        _sub(st, "MESSAGE_ID", msg_id or 0)
        if detail:
            _sub(st, "DESCRIPTION_EX", detail)
        _sub(root, "ACTION_TYPE", kind)
        return _doc(root)


def _action(root: ET.Element) -> ET.Element | None:
    """ACTION/<action>, or the action element straight after the common params (§9)."""
    act = root.find("ACTION")
    if act is not None:
        return act[0] if len(act) else None
    rest = [c for c in root if c.tag != "TRANS_COMMON_PARAMS"]
    return rest[0] if rest else None


def _closed(conn: object) -> bool:
    is_closing = getattr(conn, "is_closing", None)
    return conn is None or (callable(is_closing) and bool(is_closing()))


def _state_id(description: str) -> int:
    for ident, desc in MCU_STATES.items():
        if desc.lower() == description.lower():
            return ident
    raise KeyError(f"unknown MCU state {description!r} (one of {', '.join(MCU_STATES.values())})")


def _is_ip(address: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _doc(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _sub(parent: ET.Element, tag: str, value: object) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = str(value)
    return el


def _t(elem: ET.Element, path: str) -> str:
    found = elem.find(path)
    return (found.text or "").strip() if found is not None else ""


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default
