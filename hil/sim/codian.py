"""A Cisco/Codian MCU simulator speaking the XML-RPC Remote Management API (docs/protocols/codian.md).

`POST /RPC2`, one struct param per call with `authenticationUser`/`authenticationPassword`,
faults with the documented codes, enumerate paging (4 conferences a page, 24 with
`moreThanFour`), `lastRevision`/`currentRevision`, and a time-driven call model.

    sim = CodianSim(password="secret", addresses={"sip:busy@x": {"outcome": "busy"}})
    await sim.start()          # sim.port is the bound port
    sim.set_behaviour("sip:a@b", dial_latency_s=0.2, packet_loss_pct=3.0)
    sim.faults.delay_s = 10    # stall every answer
    await sim.stop()
"""

from __future__ import annotations

import datetime as dt
import secrets
import ssl
import xmlrpc.client
from typing import Any

from hil.sim.http_sim import XmlHttpSimulator
from hil.sim.mcu_state import McuState, SimFaultError, SimParticipant

Struct = dict[str, Any]

_CALL_STATE = {  # callStateEx -> deprecated callState
    "dormant": "dormant",
    "proceeding": "alerting",
    "alerting": "alerting",
    "connected": "connected",
    "disconnected": "disconnected",
}


class CodianSim(XmlHttpSimulator):
    """One simulated Codian MCU; state is real and advances with time."""

    paths = ("/RPC2",)

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = "Codian MCU 5320",
        software_version: str = "4.5(1.72)",
        serial: str = "SIM0000CODIAN",
        max_video_ports: int = 40,
        max_conferences: int = 500,
        default_dial_latency_s: float = 0.05,
        addresses: dict[str, dict[str, Any]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        conferences_per_page: int = 4,
        conferences_per_page_more: int = 24,
        participants_per_page: int = 10,
    ) -> None:
        super().__init__(host=host, port=port, ssl_context=ssl_context)
        self.username = username
        self.password = password
        self.model = model
        self.software_version = software_version
        self.serial = serial
        self.conferences_per_page = conferences_per_page
        self.conferences_per_page_more = conferences_per_page_more
        self.participants_per_page = participants_per_page
        self.state = McuState(
            max_video_ports=max_video_ports,
            max_conferences=max_conferences,
            default_dial_latency_s=default_dial_latency_s,
            addresses=addresses,
        )
        #: overrides of device.health.query members, e.g. {"fanStatus": "outOfSpec"}
        self.health: Struct = {}
        self.restart_time = dt.datetime.now(dt.UTC)
        self._enum_ids: dict[str, tuple[str, int, int | None]] = {}

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

    def handle(self, body: bytes) -> bytes:
        try:
            params, method = xmlrpc.client.loads(body, use_builtin_types=True)
        except Exception:
            return _fault(-32700, "parse error: not well-formed XML-RPC")
        first = params[0] if params else {}
        if method is None or len(params) > 1 or not isinstance(first, dict):
            return _fault(103, "malformed parameter - params must be one struct")
        struct: Struct = first
        self.calls[method] += 1
        if struct.get("authenticationUser") != self.username or (
            self.password and struct.get("authenticationPassword") != self.password
        ):
            return _fault(15, "insufficient privileges")
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return _fault(1, "method not supported")
        try:
            self.state.tick()
            result: Struct = handler(struct)
        except SimFaultError as fault:
            return _fault(fault.code, fault.text)
        return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False).encode()

    # ------------------------------------------------------------------ device

    def _m_device_query(self, _: Struct) -> Struct:
        return {
            "currentTime": _naive(dt.datetime.now(dt.UTC)),
            "restartTime": _naive(self.restart_time),
            "serial": self.serial,
            "softwareVersion": self.software_version,
            "buildVersion": "72.0(1.72)",
            "model": self.model,
            "apiVersion": "2.9",
            "activatedFeatures": [{"feature": "Encryption"}],
            "totalVideoPorts": self.state.max_video_ports,
            "totalAudioOnlyPorts": 8,
            "portReservationMode": "disabled",
            "maxVideoResolution": "1080p",
        }

    def _m_device_health_query(self, _: Struct) -> Struct:
        figures = self.state.health_figures()
        out: Struct = {
            "cpuLoad": figures["cpuLoad"],
            "mediaLoad": figures["mediaLoad"],
            "audioLoad": figures["mediaLoad"],
            "videoLoad": figures["mediaLoad"],
            "operationalStatus": "active",
        }
        for item in ("fanStatus", "temperatureStatus", "rtcBatteryStatus", "voltagesStatus"):
            out[item] = "ok"
            out[item + "Worst"] = "ok"
        out.update(self.health)
        return out

    # ------------------------------------------------------------------ conferences

    def _m_conference_create(self, s: Struct) -> Struct:
        self.state.create_conference(
            str(s.get("conferenceName", "")),
            numeric_id=str(s.get("numericId", "")),
            pin=str(s.get("pin", "")),
            duration_s=int(s.get("durationSeconds", 0) or 0),
        )
        return _ok()

    def _m_conference_destroy(self, s: Struct) -> Struct:
        self.state.destroy_conference(_need(s, "conferenceName", 8))
        return _ok()

    def _m_conference_status(self, s: Struct) -> Struct:
        return self._conference_struct(_need(s, "conferenceName", 8))

    def _m_conference_enumerate(self, s: Struct) -> Struct:
        last = s.get("lastRevision")
        names = [
            c.name
            for c in self.state.conferences.values()
            if not isinstance(last, int) or c.revision > last
        ]
        size = (
            self.conferences_per_page_more if s.get("moreThanFour") else self.conferences_per_page
        )
        page, next_id = self._page("conference", s, names, size)
        out: Struct = {
            "conferences": [self._conference_struct(n) for n in page],
            "currentRevision": self.state.revision,
        }
        if next_id:
            out["enumerateID"] = next_id
        return out

    # ------------------------------------------------------------------ participants

    def _m_participant_add(self, s: Struct) -> Struct:
        ptype = str(s.get("participantType", "by_address"))
        if ptype not in ("by_address", "ad_hoc"):
            raise SimFaultError(20, "unsupported participant type")
        conference = _need(s, "conferenceName", 8)
        rate = s.get("maxBitRateFromMCU") or s.get("maxBitRateToMCU") or 0
        p = self.state.add_participant(
            conference,
            str(s.get("participantName", "")),
            protocol=str(s.get("participantProtocol", "h323")),
            address=str(s.get("address", "")),
            bitrate_kbps=int(rate),
            defer=bool(s.get("deferConnection", False)),
        )
        if s.get("addResponse"):
            return {"status": "operation successful", "participant": self._participant_struct(p)}
        return _ok()

    def _m_participant_remove(self, s: Struct) -> Struct:
        self.state.remove(self._find(s))
        return _ok()

    def _m_participant_connect(self, s: Struct) -> Struct:
        self.state.connect(self._find(s))
        return _ok()

    def _m_participant_disconnect(self, s: Struct) -> Struct:
        self.state.disconnect(self._find(s))
        return _ok()

    def _m_participant_modify(self, s: Struct) -> Struct:
        p = self._find(s)
        if "audioRxMuted" in s:
            self.state.set_mute(p, bool(s["audioRxMuted"]))
        if "cpLayout" in s:
            layout = str(s["cpLayout"])
            if not (layout.startswith("layout") and layout[6:].isdigit()) and layout != "default":
                raise SimFaultError(102, "invalid parameter - cpLayout")
            self.state.set_layout(p, layout)
        return _ok()

    def _m_participant_status(self, s: Struct) -> Struct:
        return self._participant_struct(self._find(s), s.get("operationScope"))

    def _m_participant_enumerate(self, s: Struct) -> Struct:
        last = s.get("lastRevision")
        keys = [
            k
            for k, p in self.state.participants.items()
            if not isinstance(last, int) or p.revision > last
        ]
        page, next_id = self._page("participant", s, keys, self.participants_per_page)
        scope = s.get("operationScope")
        out: Struct = {
            "participants": [
                self._participant_struct(self.state.participants[k], scope) for k in page
            ],
            "currentRevision": self.state.revision,
        }
        if next_id:
            out["enumerateID"] = next_id
        return out

    # ------------------------------------------------------------------ helpers

    def _find(self, s: Struct) -> SimParticipant:
        conference = _need(s, "conferenceName", 8)
        self.state.conference(conference)  # fault 4 before any participant check
        name = _need(s, "participantName", 9)
        p = self.state.participant(conference, name)
        # identification is (name, type, protocol); the protocol defaults to h323
        if str(s.get("participantProtocol", "h323")) != p.protocol:
            raise SimFaultError(5, "no such participant")
        if str(s.get("participantType", "by_address")) != _type(p):
            raise SimFaultError(5, "no such participant")
        return p

    def _page(self, kind: str, s: Struct, items: list[Any], size: int) -> tuple[list[Any], str]:
        offset = 0
        given = s.get("enumerateID")
        last = s.get("lastRevision")
        last_rev = last if isinstance(last, int) else None
        if given is not None:
            found = self._enum_ids.pop(str(given), None)
            if found is None or found[0] != kind or found[2] != last_rev:
                raise SimFaultError(16, "invalid enumerateID value")
            offset = found[1]
        page = items[offset : offset + size]
        if offset + size >= len(items):
            return page, ""
        token = secrets.token_hex(6)
        self._enum_ids[token] = (kind, offset + size, last_rev)
        return page, token

    def _conference_struct(self, name: str) -> Struct:
        c = self.state.conference(name)
        out: Struct = {
            "conferenceName": c.name,
            "conferenceType": "scheduled",
            "uniqueId": c.id,
            "conferenceActive": True,
            "description": "",
            "pin": c.pin,
            "numericId": c.numeric_id,
            "startTime": _naive(c.created_wall),
            "durationSeconds": c.duration_s,
            "activeStartTime": _naive(c.created_wall),
            "activeConferenceId": c.id,
            "maximumVideoPorts": self.state.max_video_ports,
        }
        if c.duration_s:
            out["activeEndTime"] = _naive(c.created_wall + dt.timedelta(seconds=c.duration_s))
        return out

    def _participant_struct(self, p: SimParticipant, scope: Any = None) -> Struct:
        base: Struct = {
            "participantName": p.name,
            "participantProtocol": p.protocol,
            "participantType": _type(p),
            "conferenceName": p.conference,
            "connectionUniqueId": self.state.conferences[p.conference].id,
        }
        # a dial-in is not configured: its configuredState is empty (§6.10)
        configured: Struct = (
            {}
            if p.direction == "incoming"
            else {
                "address": p.address,
                "deferConnection": False,
                "maxBitRateToMCU": p.bitrate_kbps,
                "maxBitRateFromMCU": p.bitrate_kbps,
                "cpLayout": p.layout or "default",
            }
        )
        m = self.state.media(p)
        current: Struct = {
            "address": p.address,
            "callState": _CALL_STATE[p.state],
            "callStateEx": p.state,
            "connectPending": p.state in ("dormant", "disconnected"),
            "audioRxMuted": p.audio_muted,
            "audioRxMutedRemotely": False,
            "videoRxMuted": False,
            "mediaEncryption": "unencrypted",
            "audioRxCodec": "G.722" if m.audio_tx_sent else "",
            "audioTxCodec": "G.722" if m.audio_tx_sent else "",
            "videoRxCodec": "H.264" if m.video_tx_sent else "",
            "videoTxCodec": "H.264" if m.video_tx_sent else "",
            "audioRxReceived": m.audio_rx_received,
            "audioRxLost": m.audio_rx_lost,
            "audioTxSent": m.audio_tx_sent,
            "audioTxReportedLost": m.audio_tx_reported_lost,
            "videoRxReceived": m.video_rx_received,
            "videoRxLost": m.video_rx_lost,
            "videoTxSent": m.video_tx_sent,
            "videoTxReportedLost": m.video_tx_reported_lost,
            "packetLossWarning": m.loss_warning,
            "packetLossCritical": m.loss_critical,
        }
        if p.state != "dormant":
            current["callDirection"] = p.direction
        if p.state == "connected":
            current["displayName"] = p.behaviour.display_name or p.name
            current["ipAddress"] = "127.0.0.1"
        if p.connect_wall is not None:
            current["connectTime"] = _naive(p.connect_wall)
        if p.state == "disconnected":
            current["disconnectReason"] = p.reason
            if p.disconnect_wall is not None:
                current["disconnectTime"] = _naive(p.disconnect_wall)
        if not isinstance(scope, list):
            return {
                **base,
                **configured,
                **current,
            }  # deprecated flat output (docs/protocols/codian.md §6.10)
        if "currentState" in scope:
            base["currentState"] = current
        if "configuredState" in scope:
            base["configuredState"] = configured
        return base


def _type(p: SimParticipant) -> str:
    """API-added participants are `by_address`; dial-ins are `ad_hoc` (§4)."""
    return "ad_hoc" if p.direction == "incoming" else "by_address"


_MISSING = {
    8: "no conference name or auto attendant id supplied",
    9: "no participant name supplied",
}


def _need(s: Struct, key: str, code: int) -> str:
    value = s.get(key)
    if not value:
        raise SimFaultError(code, _MISSING.get(code, f"missing parameter - {key}"))
    return str(value)


def _ok() -> Struct:
    return {"status": "operation successful"}


def _fault(code: int, text: str) -> bytes:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, text), methodresponse=True).encode()


def _naive(value: dt.datetime) -> dt.datetime:
    """XML-RPC dateTime carries no zone; the device reports UTC."""
    return value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
