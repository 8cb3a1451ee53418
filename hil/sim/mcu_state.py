"""The call model shared by the MCU simulators: conferences, configured participants, calls.

State advances with time, evaluated lazily on every request (no background task): a dial
goes dormant → proceeding → alerting → connected (or disconnected with a reason) after the
address's `dial_latency_s`; media counters grow while connected with the configured loss.
Reasons use the Codian vocabulary (docs/protocols/codian.md §6.14); the RMX simulator translates them.

Several simulated MCUs can call each other (cascade links): the rig joins their states in one
`SimNetwork`, whose resolver hook says, when a dialled call would connect, whether the address
is another simulated MCU's conference and how that call ends. An answered call shows on the
called MCU as a dial-in (`direction == "incoming"`) until either side hangs up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

OUTCOMES = ("answer", "busy", "no_answer", "unreachable")
OUTCOME_REASON = {
    "busy": "busy",
    "no_answer": "noAnswer",
    "unreachable": "destinationUnreachable",
}
AUDIO_PPS = 50.0  # 20 ms packets
AUDIO_CODEC = "G.722"
VIDEO_CODEC = "H.264"
MAX_CONFIGURED = 500


class SimFaultError(Exception):
    """A refusal with a Codian fault code (docs/protocols/codian.md §7); the RMX simulator maps it."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass
class Behaviour:
    """How one dialled address behaves; built from plain dicts (YAML scenarios)."""

    dial_latency_s: float = 0.05
    outcome: str = "answer"
    packet_loss_pct: float = 0.0
    display_name: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, default_latency_s: float) -> Behaviour:
        """Validate a behaviour dict; unknown keys or outcomes raise ValueError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown behaviour field(s): {', '.join(sorted(unknown))}")
        merged = {"dial_latency_s": default_latency_s, **data}
        b = cls(**merged)
        if b.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {b.outcome!r}")
        if b.dial_latency_s < 0 or not 0 <= b.packet_loss_pct <= 100:
            raise ValueError("dial_latency_s >= 0 and 0 <= packet_loss_pct <= 100")
        return b


@dataclass
class SimConference:
    name: str
    id: int
    numeric_id: str = ""
    pin: str = ""
    duration_s: int = 0
    revision: int = 0
    created_wall: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    created_at: float = 0.0  # the state's clock


@dataclass
class SimParticipant:
    conference: str
    name: str
    protocol: str
    address: str
    id: int
    bitrate_kbps: int = 0
    audio_muted: bool = False
    layout: str = ""
    state: str = "dormant"  # dormant | proceeding | alerting | connected | disconnected
    reason: str = ""
    dial_started: float | None = None
    connected_since: float | None = None
    connect_wall: dt.datetime | None = None
    disconnect_wall: dt.datetime | None = None
    media_s: float = 0.0  # connected seconds of earlier calls
    behaviour: Behaviour = field(default_factory=Behaviour)
    revision: int = 0
    #: "outgoing": dialled by this MCU (added through the API); "incoming": a dial-in
    direction: str = "outgoing"
    #: the other end of a call between two simulated MCUs: (its state, its participant)
    peer: tuple[McuState, SimParticipant] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class DialAnswer:
    """What a `Resolver` says of a dialled address when the call would connect.

    `reason` non-empty: the call ends disconnected with it (Codian words, §6.14). Else the call
    connects, and when `callee` is given it shows there as a dial-in into `conference`, named
    `name`, from `address` (how the caller appears at the callee).
    """

    reason: str = ""
    callee: McuState | None = None
    conference: str = ""
    name: str = ""
    address: str = ""


class Resolver(Protocol):
    """The hook: (calling MCU, its participant) -> DialAnswer, or None for an ordinary address."""

    def __call__(self, caller: McuState, p: SimParticipant) -> DialAnswer | None: ...


class SimNetwork:
    """MCU states that can call each other, advanced together (a call changes both ends).

    The resolver is asked once per call, when the call would connect (after its dial latency)
    and only if it was answered (`Behaviour.outcome`) and a port was free.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.members: list[McuState] = []
        self._advancing = False

    def join(self, state: McuState) -> None:
        state.network = self
        self.members.append(state)

    def advance(self) -> None:
        """Advance every member's calls to the present (re-entrant calls do nothing)."""
        if self._advancing:
            return
        self._advancing = True
        try:
            for state in self.members:
                state.advance_own()
        finally:
            self._advancing = False


@dataclass(frozen=True)
class Media:
    audio_rx_received: int
    audio_rx_lost: int
    audio_tx_sent: int
    audio_tx_reported_lost: int
    video_rx_received: int
    video_rx_lost: int
    video_tx_sent: int
    video_tx_reported_lost: int
    loss_warning: bool
    loss_critical: bool


class McuState:
    """Conferences and participants of one simulated MCU."""

    def __init__(
        self,
        *,
        max_video_ports: int = 40,
        max_conferences: int = 200,
        default_dial_latency_s: float = 0.05,
        addresses: dict[str, dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_video_ports = max_video_ports
        self.max_configured = MAX_CONFIGURED  # participants over all conferences
        self.max_conferences = max_conferences
        self.default_dial_latency_s = default_dial_latency_s
        self.clock = clock
        self.revision = 1
        self.conferences: dict[str, SimConference] = {}
        self.participants: dict[tuple[str, str], SimParticipant] = {}
        self.behaviours: dict[str, Behaviour] = {}
        #: the MCUs this one can call (None: every address behaves as `behaviours` say)
        self.network: SimNetwork | None = None
        #: whether a dial-in's record stays once it has disconnected (Codian: it disappears,
        #: docs/protocols/codian.md §6.12; RMX: kept as disconnected [U])
        self.keep_ended_dial_ins = False
        #: dial-ins that arrive by themselves once a conference exists (the national office)
        self.expected_dial_ins: list[ExpectedDialIn] = []
        self._next_id = 1
        for address, data in (addresses or {}).items():
            self.set_behaviour(address, **data)

    # ------------------------------------------------------------------ behaviour

    def set_behaviour(self, address: str, **fields: Any) -> None:
        """Set how `address` answers, e.g. `set_behaviour("sip:x@h", outcome="busy")`."""
        current = self.behaviours.get(address)
        base = dataclasses.asdict(current) if current else {}
        self.behaviours[address] = Behaviour.from_dict(
            {**base, **fields}, default_latency_s=self.default_dial_latency_s
        )

    def behaviour(self, address: str) -> Behaviour:
        return self.behaviours.get(address) or Behaviour(dial_latency_s=self.default_dial_latency_s)

    # ------------------------------------------------------------------ conferences

    def create_conference(
        self, name: str, *, numeric_id: str = "", pin: str = "", duration_s: int = 0
    ) -> SimConference:
        if not name:
            raise SimFaultError(8, "no conference name or auto attendant id supplied")
        if name in self.conferences:
            raise SimFaultError(2, "duplicate conference name")
        if numeric_id and any(c.numeric_id == numeric_id for c in self.conferences.values()):
            raise SimFaultError(18, "duplicate numeric ID")
        if pin and not pin.isdigit():
            raise SimFaultError(13, "invalid PIN specified")
        if len(self.conferences) >= self.max_conferences:
            raise SimFaultError(6, "too many conferences")
        conf = SimConference(
            name=name,
            id=self._new_id(),
            numeric_id=numeric_id,
            pin=pin,
            duration_s=duration_s,
            revision=self._bump(),
            created_at=self.clock(),
        )
        self.conferences[name] = conf
        return conf

    def conference(self, name: str) -> SimConference:
        conf = self.conferences.get(name)
        if conf is None:
            raise SimFaultError(4, "no such conference or auto attendant")
        return conf

    def destroy_conference(self, name: str) -> None:
        self.conference(name)
        now = self.clock()
        for p in [p for p in self.participants.values() if p.conference == name]:
            self._end_call(p, "localTeardown", now)
        del self.conferences[name]
        for key in [k for k in self.participants if k[0] == name]:
            del self.participants[key]
        self._bump()

    # ------------------------------------------------------------------ participants

    def add_participant(
        self,
        conference: str,
        name: str,
        *,
        protocol: str,
        address: str,
        bitrate_kbps: int = 0,
        defer: bool = False,
    ) -> SimParticipant:
        conf = self.conference(conference)
        if not name:
            raise SimFaultError(9, "no participant name supplied")
        if not address:
            raise SimFaultError(10, "no participant address supplied")
        if protocol not in ("sip", "h323"):
            raise SimFaultError(19, "unsupported protocol")
        if (conference, name) in self.participants:
            raise SimFaultError(3, "duplicate participant name")
        if len(self.participants) >= self.max_configured:
            raise SimFaultError(7, "too many participants")
        p = self._insert(conf, name, protocol, address, bitrate_kbps=bitrate_kbps)
        if not defer:
            self._dial(p)
        p.revision = self._bump()
        return p

    def participant(self, conference: str, name: str) -> SimParticipant:
        self.conference(conference)
        p = self.participants.get((conference, name))
        if p is None:
            raise SimFaultError(5, "no such participant")
        return p

    def connect(self, p: SimParticipant) -> None:
        """Dial (or redial) unless a call is already up or on its way."""
        self.tick()
        if p.state in ("dormant", "disconnected"):
            self._dial(p)
            p.revision = self._bump()

    def disconnect(self, p: SimParticipant) -> None:
        """Hang up, keeping the configured participant (connect redials)."""
        self.tick()
        self._end_call(p, "localTeardown", self.clock())

    def remove(self, p: SimParticipant) -> None:
        self._end_call(p, "localTeardown", self.clock())
        self.participants.pop((p.conference, p.name), None)
        conf = self.conferences.get(p.conference)
        rev = self._bump()
        if conf is not None:
            conf.revision = rev

    def set_mute(self, p: SimParticipant, muted: bool) -> None:
        p.audio_muted = muted
        p.revision = self._bump()

    def set_layout(self, p: SimParticipant, layout: str) -> None:
        p.layout = layout
        p.revision = self._bump()

    # ------------------------------------------------------------------ time

    def tick(self) -> None:
        """Advance every call to the present (of every MCU of the network, if any)."""
        if self.network is not None:
            self.network.advance()
        else:
            self.advance_own()

    def advance_own(self) -> None:
        """Advance this MCU's calls to the present."""
        now = self.clock()
        self._expected_dial_ins(now)
        for p in list(self.participants.values()):
            if p.dial_started is None or p.state not in ("proceeding", "alerting"):
                continue
            b = p.behaviour
            elapsed = now - p.dial_started
            before = p.state
            if elapsed < b.dial_latency_s:
                early = elapsed < b.dial_latency_s / 2 or b.outcome == "unreachable"
                p.state = "proceeding" if early else "alerting"
            else:
                at = p.dial_started + b.dial_latency_s
                if b.outcome != "answer":
                    self._end(p, OUTCOME_REASON[b.outcome], at)
                elif self.ports_in_use() >= self.max_video_ports:
                    self._end(p, "portAllocationExceeded", at)
                else:
                    answer = self.network.resolver(self, p) if self.network else None
                    if answer is not None and answer.reason:
                        self._end(p, answer.reason, at)
                    else:
                        p.state = "connected"
                        p.reason = ""
                        p.connected_since = at
                        p.connect_wall = _wall(at, now)
                        if answer is not None and answer.callee is not None:
                            incoming = answer.callee.dial_in(
                                answer.conference,
                                answer.name,
                                protocol=p.protocol,
                                address=answer.address,
                                at=at,
                                packet_loss_pct=p.behaviour.packet_loss_pct,
                            )
                            p.peer = (answer.callee, incoming)
                            incoming.peer = (self, p)
            if p.state != before:
                p.revision = self._bump()

    def dial_in(
        self,
        conference: str,
        name: str,
        *,
        protocol: str,
        address: str,
        at: float,
        packet_loss_pct: float = 0.0,
    ) -> SimParticipant:
        """A call arriving into `conference`, connected since `at` (a dial-in participant).

        Its name is `name`, or `name-2`, `name-3`… when the conference has one already [U].
        """
        conf = self.conference(conference)
        unique, n = name, 1
        while (conference, unique) in self.participants:
            n += 1
            unique = f"{name[:28]}-{n}"
        p = self._insert(
            conf,
            unique,
            protocol,
            address,
            state="connected",
            connected_since=at,
            connect_wall=_wall(at, self.clock()),
            behaviour=Behaviour(dial_latency_s=0.0, packet_loss_pct=packet_loss_pct),
            direction="incoming",
        )
        p.revision = self._bump()
        return p

    def _insert(
        self, conf: SimConference, name: str, protocol: str, address: str, **fields: Any
    ) -> SimParticipant:
        p = SimParticipant(
            conference=conf.name,
            name=name,
            protocol=protocol,
            address=address,
            id=self._new_id(),
            **fields,
        )
        self.participants[(conf.name, name)] = p
        conf.revision = self._bump()
        return p

    def conference_by_number(self, numeric_id: str) -> SimConference | None:
        """The conference a caller reaches by dialling `numeric_id` (None: no such number)."""
        return next((c for c in self.conferences.values() if c.numeric_id == numeric_id), None)

    def ports_in_use(self) -> int:
        return sum(1 for p in self.participants.values() if p.state == "connected")

    def media(self, p: SimParticipant) -> Media:
        """Packet counters of all calls so far, growing while connected."""
        seconds = p.media_s
        connected = p.state == "connected" and p.connected_since is not None
        if connected and p.connected_since is not None:
            seconds += max(0.0, self.clock() - p.connected_since)
        loss = p.behaviour.packet_loss_pct / 100.0
        video_pps = max(p.bitrate_kbps or 1024, 128) * 1000 / 8 / 1100
        a_total = int(seconds * AUDIO_PPS)
        v_total = int(seconds * video_pps)
        a_lost, v_lost = int(a_total * loss), int(v_total * loss)
        return Media(
            audio_rx_received=a_total - a_lost,
            audio_rx_lost=a_lost,
            audio_tx_sent=a_total,
            audio_tx_reported_lost=a_lost,
            video_rx_received=v_total - v_lost,
            video_rx_lost=v_lost,
            video_tx_sent=v_total,
            video_tx_reported_lost=v_lost,
            loss_warning=connected and loss > 0,
            loss_critical=connected and loss > 0.05,
        )

    def health_figures(self) -> dict[str, Any]:
        """Loads derived from ports in use (percent)."""
        used = self.ports_in_use()
        media = round(100 * used / self.max_video_ports) if self.max_video_ports else 0
        return {"cpuLoad": min(100, 3 + 2 * used), "mediaLoad": media}

    # ------------------------------------------------------------------ helpers

    def _dial(self, p: SimParticipant) -> None:
        p.behaviour = self.behaviour(p.address)
        p.dial_started = self.clock()
        p.state = "proceeding"
        p.reason = ""
        p.disconnect_wall = None
        if p.behaviour.dial_latency_s == 0:
            self.tick()

    def _end(self, p: SimParticipant, reason: str, at: float) -> None:
        if p.state == "connected" and p.connected_since is not None:
            p.media_s += max(0.0, at - p.connected_since)
        p.connected_since = None
        p.state = "disconnected"
        p.reason = reason
        p.disconnect_wall = _wall(at, self.clock())
        peer, p.peer = p.peer, None
        if peer is not None:  # the other MCU sees the far end hang up
            other_state, other = peer
            other.peer = None
            other_state._end_call(other, "remoteTeardown", at)
        if p.direction == "incoming" and not self.keep_ended_dial_ins:
            self.participants.pop((p.conference, p.name), None)
            conf = self.conferences.get(p.conference)
            if conf is not None:
                conf.revision = self._bump()

    def _end_call(self, p: SimParticipant, reason: str, at: float) -> None:
        """End `p`'s call if one is up or on its way (a removal, a hang-up from the far end)."""
        if p.state not in ("disconnected", "dormant"):
            self._end(p, reason, at)
            p.revision = self._bump()

    def _expected_dial_ins(self, now: float) -> None:
        """Let each expected caller dial into each new conference it is waiting for."""
        for caller in self.expected_dial_ins:
            for conf in list(self.conferences.values()):
                if not caller.wants(conf) or conf.id in caller.joined:
                    continue
                at = conf.created_at + caller.dial_latency_s
                if at > now:
                    continue
                caller.joined.add(conf.id)
                self.dial_in(
                    conf.name,
                    caller.name,
                    protocol=caller.protocol,
                    address=caller.address,
                    at=at,
                    packet_loss_pct=caller.packet_loss_pct,
                )

    def _bump(self) -> int:
        self.revision += 1
        return self.revision

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id


@dataclass
class ExpectedDialIn:
    """A caller outside the rig's MCUs that dials into a conference once it exists.

    It calls each matching conference once (by numeric id, else by name), `dial_latency_s`
    after the conference was created; hung up on, it does not call again [U].
    """

    name: str
    address: str
    numeric_id: str = ""
    conference_name: str = ""
    protocol: str = "sip"
    dial_latency_s: float = 0.3
    packet_loss_pct: float = 0.0
    joined: set[int] = field(default_factory=set)

    def wants(self, conf: SimConference) -> bool:
        if self.numeric_id:
            return conf.numeric_id == self.numeric_id
        return conf.name == self.conference_name


def _wall(at: float, now: float) -> dt.datetime:
    """The wall-clock time of monotonic instant `at`, seen from monotonic `now`."""
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=max(0.0, now - at))
