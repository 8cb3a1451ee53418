"""A Polycom RMX simulator speaking the XML API (protocols.md §2).

`POST /` with `TRANS_*` documents; `TRANS_MCU/LOGIN` hands out tokens that every later
request must carry; answers are `RESPONSE_TRANS_*` documents with `RETURN_STATUS`.
protocols.md leaves status IDs, health and media elements unverified [U]; the choices made
here are listed in docs/mcu.md so a real RMX can be compared against them.

    sim = RmxSim(password="secret", addresses={"sip:busy@x": {"outcome": "busy"}})
    await sim.start()          # sim.port is the bound port
    await sim.stop()
"""

from __future__ import annotations

import datetime as dt
import secrets
import ssl
import xml.etree.ElementTree as ET
from typing import Any

from hil.sim.http_sim import XmlHttpSimulator
from hil.sim.mcu_state import McuState, SimConference, SimFaultError, SimParticipant

#: the simulator's RETURN_STATUS table (real IDs are not published: protocols.md §8.2)
STATUS: dict[int, str] = {
    0: "Status OK",
    1: "Failed",
    2: "Conference name already exists",
    3: "Party name already exists",
    4: "Conference does not exist",
    5: "Party does not exist",
    6: "Maximum number of conferences reached",
    7: "Maximum number of parties reached",
    13: "Invalid conference password",
    15: "Invalid user name or password",
    18: "Numeric ID already in use",
    22: "Invalid MCU token",
}

PARTY_STATUS = {
    "idle": 0,
    "connected": 2,
    "disconnected": 3,
    "connected_with_problem": 5,
    "connecting": 6,
}

#: Codian reason -> (H.323 cause, SIP cause) descriptions
CAUSES: dict[str, tuple[str, str]] = {
    "busy": ("h323_call_closed_remote_busy", "sip_busy_here"),
    "noAnswer": ("h323_call_closed_remote_no_answer", "sip_request_timeout"),
    "destinationUnreachable": (
        "h323_call_closed_remote_unreachable",
        "sip_remote_device_could_not_be_reached",
    ),
    "localTeardown": ("disconnected_by_operator", "disconnected_by_operator"),
    "portAllocationExceeded": ("resources_deficiency", "resources_deficiency"),
}


class _StatusError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(STATUS.get(code, "Failed"))
        self.code = code
        self.detail = detail


class RmxSim(XmlHttpSimulator):
    """One simulated RMX; state is real and advances with time."""

    paths = ("/",)

    def __init__(
        self,
        *,
        username: str = "POLYCOM",
        password: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        product: str = "Rmx_1800",
        version: tuple[int, int, int, int] = (8, 7, 5, 48),
        max_video_ports: int = 30,
        max_conferences: int = 200,
        default_dial_latency_s: float = 0.05,
        addresses: dict[str, dict[str, Any]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(host=host, port=port, ssl_context=ssl_context)
        self.username = username
        self.password = password
        self.product = product
        self.version = version
        self.state = McuState(
            max_video_ports=max_video_ports,
            max_conferences=max_conferences,
            default_dial_latency_s=default_dial_latency_s,
            addresses=addresses,
        )
        #: GET_STATE overrides: {"MCU_STATE": "minor", "FAN": "major", …}
        self.health: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._list_revision = 0
        self._list_signature: tuple[Any, ...] = ()

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

    def expire_tokens(self) -> None:
        """Forget every session, as an RMX restart or session timeout would."""
        self._tokens.clear()

    def handle(self, body: bytes) -> bytes:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return self._reply(
                "TRANS_UNKNOWN", "", 1, None, detail="request is not well-formed XML"
            )
        trans = root.tag
        action_el = root.find("ACTION")
        action = action_el[0] if action_el is not None and len(action_el) else None
        msg_id = _t(root, "TRANS_COMMON_PARAMS/MESSAGE_ID")
        if action is None:
            return self._reply(trans, msg_id, 1, None, detail="no ACTION")
        self.calls[f"{trans}/{action.tag}"] += 1
        try:
            if (trans, action.tag) == ("TRANS_MCU", "LOGIN"):
                result = self._login(action)
            else:
                token = _t(root, "TRANS_COMMON_PARAMS/MCU_TOKEN")
                user = _t(root, "TRANS_COMMON_PARAMS/MCU_USER_TOKEN")
                result = self._dispatch(trans, action, token, user)
        except _StatusError as st:
            return self._reply(trans, msg_id, st.code, None, detail=st.detail)
        except SimFaultError as fault:
            code = fault.code if fault.code in STATUS else 1
            return self._reply(trans, msg_id, code, None, detail=fault.text)
        self._track_list()
        return self._reply(trans, msg_id, 0, result)

    # ------------------------------------------------------------------ actions

    def _dispatch(self, trans: str, action: ET.Element, token: str, user: str) -> ET.Element:
        if self._tokens.get(token) != user:
            raise _StatusError(22)
        handler = getattr(self, f"_a_{trans}_{action.tag}".lower(), None)
        if handler is None:
            raise _StatusError(1, f"unknown action {trans}/{action.tag}")
        self.state.tick()
        result: ET.Element = handler(action)
        return result

    def _login(self, a: ET.Element) -> ET.Element:
        if _t(a, "USER_NAME") != self.username or (
            self.password and _t(a, "PASSWORD") != self.password
        ):
            raise _StatusError(15)
        mcu_token, user_token = str(secrets.randbelow(10**6)), str(secrets.randbelow(10**6))
        self._tokens[mcu_token] = user_token
        out = ET.Element("LOGIN")
        _sub(out, "MCU_TOKEN", mcu_token)
        _sub(out, "MCU_USER_TOKEN", user_token)
        versions = ET.SubElement(ET.SubElement(out, "VERSION_LIST"), "MCU_VERSION")
        for tag, value in zip(("MAIN", "MAJOR", "MINOR", "INTERNAL"), self.version, strict=True):
            _sub(versions, tag, value)
        _sub(out, "AUTHORIZATION_GROUP", "administrator")
        _sub(out, "API_NUMBER", 100)
        _sub(out, "PRODUCT_TYPE", self.product)
        return out

    def _a_trans_mcu_get_state(self, _: ET.Element) -> ET.Element:
        out = ET.Element("GET_STATE")
        desc = self.health.get("MCU_STATE", "normal")
        st = ET.SubElement(out, "MCU_STATE")
        _sub(st, "ID", {"normal": 1, "minor": 2, "major": 3}.get(desc, 0))
        _sub(st, "DESCRIPTION", desc)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        _sub(out, "MCU_TIME", now.isoformat())
        hw = ET.SubElement(out, "HW_STATUS")
        for item in ("FAN", "TEMPERATURE", "VOLTAGE"):
            _sub(hw, item, self.health.get(item, "normal"))
        return out

    def _a_trans_rsrc_report_get_report(self, _: ET.Element) -> ET.Element:
        out = ET.Element("GET_REPORT")
        lst = ET.SubElement(out, "RSRC_REPORT_RMX_LIST")
        item = ET.SubElement(lst, "RSRC_REPORT_RMX")
        used = self.state.ports_in_use()
        _sub(item, "TYPE", "video")
        _sub(item, "TOTAL", self.state.max_video_ports)
        _sub(item, "OCCUPIED", used)
        _sub(item, "FREE", self.state.max_video_ports - used)
        return out

    def _a_trans_conf_list_get_ls(self, a: ET.Element) -> ET.Element:
        token = _int(_t(a, "OBJ_TOKEN"), -1)
        out = ET.Element("GET_LS")
        ls = ET.SubElement(out, "CONF_SUMMARY_LS")
        self._track_list()
        _sub(ls, "OBJ_TOKEN", self._list_revision)
        changed = token < 0 or self._list_revision > token
        _sub(ls, "CHANGED", "true" if changed else "false")
        if changed:
            for conf in self.state.conferences.values():
                if token < 0 or conf.revision > token:
                    self._summary(ls, conf)
        return out

    def _a_trans_res_1_start(self, a: ET.Element) -> ET.Element:
        res = a.find("RESERVATION")
        if res is None:
            raise _StatusError(1, "no RESERVATION")
        duration = (
            _int(_t(res, "DURATION/HOUR")) * 3600
            + _int(_t(res, "DURATION/MINUTE")) * 60
            + _int(_t(res, "DURATION/SECOND"))
        )
        if _t(res, "PERMANENT") == "true":
            duration = 0
        conf = self.state.create_conference(
            _t(res, "NAME"),
            numeric_id=_t(res, "NUMERIC_ID"),
            pin=_t(res, "PASSWORD"),
            duration_s=duration,
        )
        out = ET.Element("START")
        _sub(out, "ID", conf.id)
        return out

    def _a_trans_conf_2_terminate_conf(self, a: ET.Element) -> ET.Element:
        self.state.destroy_conference(self._conf(a).name)
        return ET.Element("TERMINATE_CONF")

    def _a_trans_conf_2_get(self, a: ET.Element) -> ET.Element:
        conf = self._conf(a)
        out = ET.Element("GET")
        c = ET.SubElement(out, "CONFERENCE")
        _sub(c, "OBJ_TOKEN", self.state.revision)
        res = ET.SubElement(c, "RESERVATION")
        _sub(res, "NAME", conf.name)
        _sub(res, "ID", conf.id)
        _sub(res, "NUMERIC_ID", conf.numeric_id)
        lst = ET.SubElement(c, "ONGOING_PARTY_LIST")
        for p in self.state.participants.values():
            if p.conference == conf.name:
                self._party(lst, p)
        return out

    def _a_trans_conf_1_add_party(self, a: ET.Element) -> ET.Element:
        conf = self._conf(a)
        party = a.find("PARTY")
        if party is None:
            raise _StatusError(1, "no PARTY")
        interface = _t(party, "INTERFACE")
        if interface == "sip":
            sip = _t(party, "SIP_ADDRESS")
            address = f"sip:{sip}" if sip and not sip.startswith("sip") else sip
        else:
            address = _t(party, "ALIAS/NAME") or _t(party, "IP")
        rate = _t(party, "VIDEO_BIT_RATE")
        p = self.state.add_participant(
            conf.name,
            _t(party, "NAME"),
            protocol=interface,
            address=address,
            bitrate_kbps=_int(rate, 0),
            defer=_t(party, "CONNECTION") != "dial_out",
        )
        out = ET.Element("ADD_PARTY")
        _sub(out, "PARTY_ID", p.id)
        return out

    def _a_trans_conf_1_delete_party(self, a: ET.Element) -> ET.Element:
        self.state.remove(self._find_party(a))
        return ET.Element("DELETE_PARTY")

    def _a_trans_party_set_connect(self, a: ET.Element) -> ET.Element:
        p = self._find_party(a)
        if _t(a, "CONNECT") == "true":
            self.state.connect(p)
        else:
            self.state.disconnect(p)
        return ET.Element("SET_CONNECT")

    def _a_trans_party_set_audio_video_mute(self, a: ET.Element) -> ET.Element:
        p = self._find_party(a)
        if a.find("AUDIO_MUTE") is not None:
            self.state.set_mute(p, _t(a, "AUDIO_MUTE") == "true")
        return ET.Element("SET_AUDIO_VIDEO_MUTE")

    # ------------------------------------------------------------------ helpers

    def _conf(self, a: ET.Element) -> SimConference:
        ident = _int(_t(a, "ID"), -1)
        for conf in self.state.conferences.values():
            if conf.id == ident:
                return conf
        raise _StatusError(4)

    def _find_party(self, a: ET.Element) -> SimParticipant:
        conf = self._conf(a)
        ident = _int(_t(a, "PARTY_ID"), -1)
        for p in self.state.participants.values():
            if p.conference == conf.name and p.id == ident:
                return p
        raise _StatusError(5)

    def _summary(self, parent: ET.Element, conf: SimConference) -> None:
        item = ET.SubElement(parent, "CONF_SUMMARY")
        _sub(item, "NAME", conf.name)
        _sub(item, "ID", conf.id)
        _sub(item, "NUMERIC_ID", conf.numeric_id)
        _sub(item, "DISPLAY_NAME", conf.name)
        parties = [p for p in self.state.participants.values() if p.conference == conf.name]
        _sub(item, "NUM_PARTIES", len(parties))
        _sub(item, "NUM_CONNECTED_PARTIES", sum(p.state == "connected" for p in parties))

    def _party(self, parent: ET.Element, p: SimParticipant) -> None:
        op = ET.SubElement(parent, "ONGOING_PARTY")
        party = ET.SubElement(op, "PARTY")
        _sub(party, "NAME", p.name)
        _sub(party, "ID", p.id)
        _sub(party, "INTERFACE", p.protocol)
        _sub(party, "CONNECTION", "dial_out")
        if p.protocol == "sip":
            _sub(party, "SIP_ADDRESS", p.address.removeprefix("sip:"))
            _sub(party, "SIP_ADDRESS_TYPE", "uri_type")
        else:
            alias = ET.SubElement(party, "ALIAS")
            _sub(alias, "NAME", p.address)
            _sub(alias, "ALIAS_TYPE", "h323_id")
        _sub(party, "VIDEO_BIT_RATE", p.bitrate_kbps or "automatic")
        m = self.state.media(p)
        status = {
            "dormant": "idle",
            "proceeding": "connecting",
            "alerting": "connecting",
            "connected": "connected_with_problem" if m.loss_critical else "connected",
            "disconnected": "disconnected",
        }[p.state]
        st = ET.SubElement(op, "ONGOING_PARTY_STATUS")
        _sub(st, "ID", PARTY_STATUS[status])
        _sub(st, "DESCRIPTION", status)
        cause = ET.SubElement(op, "DISCONNECTION_CAUSE")
        if p.state == "disconnected" and p.reason:
            pair = CAUSES.get(p.reason, (p.reason, p.reason))
            _sub(cause, "ID", 1 + list(CAUSES).index(p.reason) if p.reason in CAUSES else 99)
            _sub(cause, "DESCRIPTION", pair[0] if p.protocol == "h323" else pair[1])
        else:
            _sub(cause, "ID", 0)
            _sub(cause, "DESCRIPTION", "None")
        _sub(op, "AUDIO_MUTE", "true" if p.audio_muted else "false")
        _sub(op, "VIDEO_MUTE", "false")
        if p.state == "connected":
            _sub(op, "REMOTE_NAME", p.behaviour.display_name or p.name)
        if p.connect_wall is not None:
            _sub(op, "CONNECT_TIME", p.connect_wall.replace(tzinfo=None, microsecond=0).isoformat())
        stats = ET.SubElement(op, "MEDIA_STATISTICS")
        for kind, codec, packets, lost in (
            ("audio_in", "G.722", m.audio_rx_received, m.audio_rx_lost),
            ("audio_out", "G.722", m.audio_tx_sent, m.audio_tx_reported_lost),
            ("video_in", "H.264", m.video_rx_received, m.video_rx_lost),
            ("video_out", "H.264", m.video_tx_sent, m.video_tx_reported_lost),
        ):
            ch = ET.SubElement(stats, "CHANNEL")
            _sub(ch, "TYPE", kind)
            _sub(ch, "CODEC", codec if packets or lost else "")
            _sub(ch, "PACKETS", packets)
            _sub(ch, "LOST", lost)

    def _track_list(self) -> None:
        signature = tuple(
            (c.name, c.id, sum(1 for k in self.state.participants if k[0] == c.name))
            for c in self.state.conferences.values()
        )
        if signature != self._list_signature:
            self._list_signature = signature
            self._list_revision = self.state.revision

    def _reply(
        self,
        trans: str,
        msg_id: str,
        code: int,
        result: ET.Element | None,
        *,
        detail: str = "",
    ) -> bytes:
        root = ET.Element(f"RESPONSE_{trans}")
        st = ET.SubElement(root, "RETURN_STATUS")
        _sub(st, "ID", code)
        _sub(st, "DESCRIPTION", STATUS.get(code, "Failed"))
        _sub(st, "YOUR_TOKEN1", 0)
        _sub(st, "YOUR_TOKEN2", 0)
        _sub(st, "MESSAGE_ID", msg_id or 0)
        _sub(st, "DESCRIPTION_EX", detail)
        if result is not None:
            ET.SubElement(root, "ACTION").append(result)
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
