"""Capability interfaces every driver implements, with their typed results.

Interfaces are small on purpose: the orchestrator asks only for what it needs, a driver
raises `NotSupportedError` for what its device cannot do, and `capabilities` lets callers
ask first instead of catching.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from devices.errors import NotSupportedError
from devices.health import Health


class Capability(StrEnum):
    """Optional abilities a device may announce in `capabilities`."""

    MCU_LAYOUT = "mcu.layout"
    MCU_RECORDING = "mcu.recording"
    MCU_REVISIONS = "mcu.revisions"
    PTZ_POWER = "ptz.power"
    PTZ_ABSOLUTE = "ptz.absolute"
    PTZ_CLOCK = "ptz.clock"
    PTZ_SAVE_PRESET = "ptz.save_preset"
    MIXER_LEVEL = "mixer.level"
    MIXER_METERS = "mixer.meters"
    MIXER_SUBSCRIBE = "mixer.subscribe"
    MIXER_SNAPSHOT = "mixer.snapshot"


class ConnectionState(StrEnum):
    """Lifecycle of a one-shot connection object; reconnecting means a new object."""

    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"
    FAILED = "failed"


class Device(abc.ABC):
    """What every driver shares: a name for messages, a state, open and close."""

    #: the profile id of the device (e.g. ``tien-du.cam1``); used in every error message
    name: str
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = ConnectionState.NEW

    async def connect(self) -> None:
        """Open the link; idempotent. Stateless protocols may do nothing but check reachability."""
        self.state = ConnectionState.CONNECTED

    async def close(self) -> None:
        """Release sockets and tasks; safe to call twice and after a failure."""
        self.state = ConnectionState.CLOSED

    @abc.abstractmethod
    async def health(self) -> Health:
        """A fresh health reading; never raises for a reachable device, raises for an unreachable one."""

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def _unsupported(self, what: str) -> NotSupportedError:
        return NotSupportedError(f"{what} is not supported by this device", device=self.name)

    async def __aenter__(self) -> Device:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    manufacturer: str
    model: str
    firmware: str
    serial: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- MCU


class CallProtocol(StrEnum):
    SIP = "sip"
    H323 = "h323"


class CallState(StrEnum):
    """Union of the Codian `callStateEx` and RMX party states, mapped by each driver."""

    DORMANT = "dormant"
    PROCEEDING = "proceeding"
    ALERTING = "alerting"
    CONNECTED = "connected"
    PENDING = "pending"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class McuInfo:
    model: str
    software_version: str
    current_time: dt.datetime | None
    serial: str = ""
    api_version: str = ""
    total_video_ports: int | None = None


@dataclass(frozen=True, slots=True)
class ConferenceSpec:
    name: str
    numeric_id: str | None = None
    pin: str | None = None
    duration_s: int | None = None  # None or 0: permanent


@dataclass(frozen=True, slots=True)
class Conference:
    name: str
    active: bool
    numeric_id: str | None = None
    unique_id: int | None = None
    participant_count: int | None = None


@dataclass(frozen=True, slots=True)
class ParticipantSpec:
    name: str
    address: str
    protocol: CallProtocol = CallProtocol.SIP
    bitrate_kbps: int | None = None
    defer_connection: bool = False


@dataclass(frozen=True, slots=True)
class MediaStats:
    audio_rx_codec: str = ""
    audio_rx_received: int = 0
    audio_rx_lost: int = 0
    audio_tx_codec: str = ""
    audio_tx_sent: int = 0
    audio_tx_reported_lost: int = 0
    video_rx_codec: str = ""
    video_rx_received: int = 0
    video_rx_lost: int = 0
    video_tx_codec: str = ""
    video_tx_sent: int = 0
    video_tx_reported_lost: int = 0

    @property
    def rx_loss_ratio(self) -> float:
        """Received-side loss as a fraction of packets expected (0.0 with no traffic)."""
        lost = self.audio_rx_lost + self.video_rx_lost
        total = self.audio_rx_received + self.video_rx_received + lost
        return lost / total if total else 0.0


@dataclass(frozen=True, slots=True)
class Participant:
    name: str
    conference: str
    protocol: CallProtocol
    address: str
    call_state: CallState
    disconnect_reason: str | None = None
    connect_time: dt.datetime | None = None
    audio_muted: bool = False
    packet_loss_warning: bool = False
    packet_loss_critical: bool = False
    media: MediaStats = field(default_factory=MediaStats)
    display_name: str = ""


class Mcu(Device):
    """A multipoint control unit: conferences, dial-out participants, media stats, recording."""

    @abc.abstractmethod
    async def info(self) -> McuInfo: ...

    @abc.abstractmethod
    async def conferences(self) -> list[Conference]:
        """Every conference, across all pages."""

    @abc.abstractmethod
    async def create_conference(self, spec: ConferenceSpec) -> Conference: ...

    @abc.abstractmethod
    async def destroy_conference(self, name: str) -> None: ...

    @abc.abstractmethod
    async def participants(self, conference: str | None = None) -> list[Participant]:
        """Every participant (of one conference, or all), across all pages."""

    @abc.abstractmethod
    async def add_participant(self, conference: str, spec: ParticipantSpec) -> None: ...

    @abc.abstractmethod
    async def connect_participant(self, conference: str, name: str) -> None: ...

    @abc.abstractmethod
    async def disconnect_participant(self, conference: str, name: str) -> None: ...

    @abc.abstractmethod
    async def remove_participant(self, conference: str, name: str) -> None: ...

    @abc.abstractmethod
    async def set_audio_mute(self, conference: str, name: str, muted: bool) -> None: ...

    async def set_layout(self, conference: str, name: str, layout: int) -> None:
        raise self._unsupported("layout")

    async def start_recording(self, conference: str, spec: ParticipantSpec) -> None:
        """Dial the recorder into `conference` as participant `spec`; idempotent.

        Adds the participant when absent and (re)connects it when it is not connected or
        on its way; a recorder already connected or dialling is left alone.
        """
        current = {p.name: p for p in await self.participants(conference)}
        found = current.get(spec.name)
        if found is None:
            await self.add_participant(conference, spec)
            if spec.defer_connection:
                await self.connect_participant(conference, spec.name)
            return
        if found.call_state in (CallState.DISCONNECTED, CallState.DORMANT):
            await self.connect_participant(conference, spec.name)

    async def recording_connected(self, conference: str, name: str) -> bool:
        """True when the recording link `name` is a connected participant of `conference`."""
        return any(
            p.name == name and p.call_state is CallState.CONNECTED
            for p in await self.participants(conference)
        )

    async def stop_recording(self, conference: str) -> None:
        """Stop an MCU that records `conference` itself (a recorder participant is hung up)."""
        raise self._unsupported("recording on the MCU itself")


# --------------------------------------------------------------------------- codec


@dataclass(frozen=True, slots=True)
class Reachability:
    reachable: bool
    rtt_ms: float | None
    detail: str  # e.g. "SIP/2.0 200 OK" or "connection refused"
    method: str  # "sip-options-udp", "sip-options-tcp", "h323-tcp"


class Codec(Device):
    """A room's video endpoint, as far as mcu-control needs it: is it reachable."""

    @abc.abstractmethod
    async def ping(self) -> Reachability: ...


# --------------------------------------------------------------------------- PTZ


@dataclass(frozen=True, slots=True)
class PtzPosition:
    """Generic ONVIF space: pan and tilt −1…1, zoom 0…1; VISCA drivers convert."""

    pan: float
    tilt: float
    zoom: float

    def distance(self, other: PtzPosition) -> float:
        return max(
            abs(self.pan - other.pan), abs(self.tilt - other.tilt), abs(self.zoom - other.zoom)
        )


@dataclass(frozen=True, slots=True)
class PtzStatus:
    position: PtzPosition | None
    moving: bool | None  # None: the device cannot tell (ONVIF MoveStatus UNKNOWN)
    error: str = ""


@dataclass(frozen=True, slots=True)
class Preset:
    token: str  # ONVIF token, or the VISCA memory number as text
    name: str
    position: PtzPosition | None = None


@dataclass(frozen=True, slots=True)
class ClockReading:
    device_time: dt.datetime
    offset_s: float  # device minus ours; positive means the device runs ahead


class PtzCamera(Device):
    """A pan-tilt-zoom camera with presets."""

    @abc.abstractmethod
    async def identify(self) -> DeviceInfo: ...

    @abc.abstractmethod
    async def presets(self) -> list[Preset]: ...

    @abc.abstractmethod
    async def goto_preset(
        self, token: str, *, wait: bool = True, timeout_s: float = 10.0
    ) -> PtzStatus:
        """Recall a preset; with `wait`, return once arrival is confirmed (completion or settled position)."""

    @abc.abstractmethod
    async def status(self) -> PtzStatus: ...

    @abc.abstractmethod
    async def continuous_move(
        self, pan: float, tilt: float, zoom: float, *, timeout_s: float
    ) -> None:
        """Move at velocities in −1…1; the move stops by itself after `timeout_s`."""

    @abc.abstractmethod
    async def stop(self) -> None: ...

    async def clock(self) -> ClockReading:
        raise self._unsupported("device clock")

    async def save_preset(self, token: str | None, name: str) -> str:
        raise self._unsupported("saving presets")

    async def absolute_move(
        self, position: PtzPosition, *, wait: bool = True, timeout_s: float = 10.0
    ) -> PtzStatus:
        raise self._unsupported("absolute move")

    async def set_power(self, on: bool) -> None:
        raise self._unsupported("power control")

    async def power(self) -> bool:
        raise self._unsupported("power inquiry")


# --------------------------------------------------------------------------- mixer


@dataclass(frozen=True, slots=True)
class LevelRange:
    min_db: float
    max_db: float


@dataclass(frozen=True, slots=True)
class ChannelState:
    channel: str  # logical name from the profile, e.g. "mic-chu-tri"
    muted: bool | None
    level_db: float | None


@dataclass(frozen=True, slots=True)
class MixerEvent:
    """A change the mixer pushed: `kind` is "mute" (bool value), "level" or "meter" (dB)."""

    channel: str
    kind: str
    value: bool | float


class AudioMixer(Device):
    """An audio DSP or mixer addressed by the profile's logical channel names."""

    @abc.abstractmethod
    async def identify(self) -> DeviceInfo: ...

    @abc.abstractmethod
    async def get_mute(self, channel: str) -> bool: ...

    @abc.abstractmethod
    async def set_mute(self, channel: str, muted: bool) -> None: ...

    async def toggle_mute(self, channel: str) -> bool:
        """Flip the mute and return the new state."""
        new = not await self.get_mute(channel)
        await self.set_mute(channel, new)
        return new

    async def get_level(self, channel: str) -> float:
        raise self._unsupported("level")

    async def set_level(self, channel: str, level_db: float) -> None:
        raise self._unsupported("level")

    async def level_range(self, channel: str) -> LevelRange:
        raise self._unsupported("level range")

    async def meters(self, channels: list[str] | None = None) -> dict[str, float]:
        raise self._unsupported("meters")

    async def subscribe(
        self, on_event: Callable[[MixerEvent], None], *, meter_rate_ms: int = 500
    ) -> None:
        """Push mute, level and meter changes to `on_event`; kept across reconnects."""
        raise self._unsupported("subscriptions")

    async def recall_snapshot(self, snapshot: int) -> None:
        """Recall a stored preset/snapshot by number."""
        raise self._unsupported("snapshot recall")

    async def channel_states(self, channels: list[str]) -> list[ChannelState]:
        """Mute and level of each channel; a level the device cannot report is None."""
        out = []
        for ch in channels:
            muted = await self.get_mute(ch)
            try:
                level: float | None = await self.get_level(ch)
            except NotSupportedError:
                level = None
            out.append(ChannelState(ch, muted, level))
        return out
