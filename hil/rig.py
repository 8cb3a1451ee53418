"""The simulated rig: every device a profile names, on 127.0.0.1, in one process.

`Rig(loaded, scenario)` starts an MCU simulator per MCU (the central point's `mcu` and each
of `mcus`, wired so that they can call each other's conferences: cascade links), a SIP
responder per codec, for the recorder and for the national office (`upstream`), a camera
simulator per camera (ONVIF, VISCA serial over TCP, VISCA-IP), a Tesira simulator per TTP
mixer and one snmpsim process for every SNMP mixer. The scenario decides per device how it
behaves (dial latency, busy, loss, clock offset, down). A profile whose devices live
elsewhere is first localized (`hil.genprofile.localize`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from devices.errors import ConfigError
from drivers.registry import resolve, spec
from hil.scenario import UPSTREAM, Scenario, load_scenario
from profiles.camera import CameraConfig, CameraModel
from profiles.codec import CodecConfig
from profiles.loader import LoadedProfile
from profiles.mcu import cascade_dial_string
from profiles.mixer import MixerConfig
from profiles.schema import PointConfig

log = logging.getLogger("mcu_control.rig")
_URL_PORT = re.compile(r"^socket://[^:]+:(\d+)$")


class PortInUseError(ConfigError):
    """A port the rig needs is taken (another rig, a real service)."""

    kind = "port-in-use"


class Simulator(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class Entry:
    device: str  # "<point>.<device>"
    kind: str
    address: str
    behaviour: str
    sim: Simulator | None  # None: deliberately down


#: builds the simulator of one device from its profile section: (rig, point, cfg) -> Entry, or
#: None when the device is served by a simulator the rig starts once for several devices
#: (snmpsim: one process for every SNMP mixer, see `Rig._build`)
SimFactory = Callable[["Rig", PointConfig, Any], "Entry | None"]

#: the simulators the rig can start, by `DriverSpec.simulator` (drivers/registry.py); a family
#: whose spec names its simulator as "module:function" needs no entry here (see `factory`)
SIMULATORS: dict[str, SimFactory] = {}


def simulator(*names: str) -> Callable[[SimFactory], SimFactory]:
    """Register a simulator factory under one or more `DriverSpec.simulator` names."""

    def register(factory: SimFactory) -> SimFactory:
        for name in names:
            SIMULATORS[name] = factory
        return factory

    return register


def factory(kind: str, key: str, device: str) -> SimFactory:
    """The simulator factory for driver `key` of interface `kind`.

    `DriverSpec.simulator` is a name registered here, or "module:function" of a factory
    in the family's own simulator module (a new family then touches nothing in this file).
    """
    name = spec(kind, key).simulator
    found = SIMULATORS.get(name)
    if found is None and ":" in name:
        found = resolve(name)
    if found is None:
        raise ConfigError(
            f"the simulated rig has no simulator for driver {key!r}",
            device=device,
            hint=(
                f"register one for {name!r} with @simulator in hil/rig.py, or name it "
                "'module:function' in the driver's DriverSpec"
            ),
        )
    return found


class Rig:
    """Start and stop every simulator of a profile; `endpoints()` says where each listens."""

    def __init__(
        self,
        loaded: LoadedProfile,
        scenario: Scenario | None = None,
        *,
        state_dir: Path | None = None,
    ) -> None:
        self.loaded = loaded
        self.scenario = scenario or load_scenario(None)
        # where a recorder storage directory given relative to the state directory lives
        # (default: $MCU_CONTROL_STATE_DIR; without either, the recorder writes no files)
        self.state_dir = state_dir
        self.entries: list[Entry] = []
        self.mcu: Any = None  # the host MCU's simulator (None: down)
        #: every running MCU simulator by MCU id (the host's and each of `mcus`)
        self.mcus: dict[str, Any] = {}
        self.snmp: Any = None
        self.recorder_files: Any = None  # hil.sim.recorder_files.RecordingWriter, if any

    async def start(self) -> None:
        """Start every simulator; PortInUseError (exit 3) before any starts if a port is taken.

        Cancelled or failed half-way, it stops what it started (no child process stays).
        """
        self.entries = self._build()
        self._check_ports()
        sims = [e.sim for e in self.entries if e.sim is not None]
        try:
            results = await asyncio.gather(*(s.start() for s in sims), return_exceptions=True)
        except BaseException:
            await asyncio.shield(self.stop())
            raise
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await self.stop()
            raise RuntimeError(f"rig failed to start: {errors[0]!r}") from errors[0]

    async def stop(self) -> None:
        sims = [e.sim for e in self.entries if e.sim is not None]
        await asyncio.gather(*(s.stop() for s in sims), return_exceptions=True)

    def ports(self) -> list[tuple[str, str, int, str]]:
        """(proto, host, port, device) of every simulator the rig runs (built, not started)."""
        from hil.ports import endpoints_in

        entries = self.entries or self._build()
        return [
            (proto, host, port, e.device)
            for e in entries
            if e.sim is not None
            for proto, host, port in endpoints_in(e.address)
        ]

    def _check_ports(self) -> None:
        from hil.ports import holder, port_busy

        busy = []
        for proto, host, port, device in self.ports():
            if port_busy(proto, host, port):
                who = holder(proto, port)
                busy.append(
                    f"{proto} {host}:{port} ({device})" + (f" held by {who}" if who else "")
                )
        if busy:
            raise PortInUseError(
                f"port in use: {'; '.join(busy)}",
                hint="stop what holds it (another `sim up` or `demo`?) or give the profile "
                "other ports, then start the rig again",
            )

    def endpoints(self) -> list[dict[str, str]]:
        return [
            {
                "device": e.device,
                "kind": e.kind,
                "address": e.address if e.sim else "down",
                "behaviour": e.behaviour,
            }
            for e in self.entries
        ]

    def entry(self, device_id: str) -> Entry:
        return next(e for e in self.entries if e.device == device_id)

    # ------------------------------------------------------------------ building

    def _build(self) -> list[Entry]:
        entries: list[Entry | None] = [*self._mcus(), self._upstream()]
        self._snmp_endpoints: list[tuple[str, int]] = []
        self._snmp_devices: list[str] = []
        self._snmp_community: str | None = None
        for point in self.loaded.profile.points:
            entries.append(self._device("Codec", point, point.codec))
            if point.recorder is not None:
                entries.append(self._recorder(point))
                files = self._recorder_files(point)
                if files is not None:
                    entries.append(files)
            entries += [self._device("PtzCamera", point, cam) for cam in point.cameras]
            if point.mixer is not None:
                entries.append(self._device("AudioMixer", point, point.mixer))
        if self._snmp_endpoints:
            from hil.sim.snmp_agent import SnmpAgent

            endpoints = self._snmp_endpoints
            self.snmp = SnmpAgent(endpoints=endpoints, community=self._snmp_community or "public")
            where = ", ".join(f"udp {h}:{p}" for h, p in endpoints)
            entries.append(
                Entry(",".join(self._snmp_devices), "snmpsim", where, "snmp v2c agent", self.snmp)
            )
        return [e for e in entries if e is not None]

    def _device(self, kind: str, point: PointConfig, cfg: Any) -> Entry | None:
        """The simulator the registry names for `cfg.driver` (None: a shared one serves it)."""
        return factory(kind, cfg.driver, f"{point.id}.{cfg.id}")(self, point, cfg)

    def _mcus(self) -> list[Entry]:
        """A simulator per MCU, joined in one network that resolves cascade dial strings."""
        from hil.sim.mcu_rig import McuDirectory, mcu_sim
        from hil.sim.mcu_state import SimNetwork

        profile = self.loaded.profile
        central = profile.central
        assert central.mcu is not None  # the schema requires it on the central point
        directory = McuDirectory()
        network = SimNetwork(directory)
        self.mcus = {}
        entries = []
        for cfg in [central.mcu, *profile.mcus]:
            dev = f"{central.id}.{cfg.id}"
            dial = cascade_dial_string(cfg) or ""
            if self.scenario.device(dev).down:
                directory.add(cfg, None)
                entries.append(Entry(dev, "mcu", "", "down", None))
                continue
            sim = mcu_sim(self.loaded, cfg)
            self._mcu_behaviours(sim)
            network.join(sim.state)
            directory.add(cfg, sim.state)
            self.mcus[cfg.id] = sim
            where = f"http://127.0.0.1:{cfg.port}"
            entries.append(Entry(dev, type(sim).__name__, where, f"cascade {dial}".strip(), sim))
        self.mcu = self.mcus.get(central.mcu.id)
        return entries

    def _mcu_behaviours(self, sim: Any) -> None:
        """How every codec, the recorder and the national office answer this MCU's dials."""
        d = self.scenario.defaults
        sim.state.default_dial_latency_s = d.dial_latency_s
        if d.mcu_capacity is not None:
            sim.state.max_video_ports = sim.state.max_configured = d.mcu_capacity
        for point in self.loaded.profile.points:
            b = self.scenario.device(f"{point.id}.{point.codec.id}")
            fields = _call_fields(b, d)
            for address in [point.codec.address, *(a.address for a in point.codec.alternates)]:
                sim.set_behaviour(address, **fields)
            if point.recorder is not None:
                rb = self.scenario.device(f"{point.id}.{point.recorder.id}")
                sim.set_behaviour(point.recorder.address, **_call_fields(rb, d))
        up = self.loaded.profile.upstream
        if up is None:
            return
        b = self.scenario.device(UPSTREAM)
        fields = _call_fields(b, d)
        if b.down:
            fields["outcome"] = "unreachable"
        sim.set_behaviour(up.address, **fields)

    def _upstream(self) -> Entry | None:
        """The national reception office: answers the host's call, or dials into its conference."""
        from hil.sim.mcu_rig import dial_target
        from hil.sim.mcu_state import ExpectedDialIn
        from hil.sim.sip import H323Sim, SipResponder

        up = self.loaded.profile.upstream
        if up is None:
            return None
        b = self.scenario.device(UPSTREAM)
        if b.down:
            return Entry(UPSTREAM, "national office", "", "down", None)
        d = self.scenario.defaults
        fields = _call_fields(b, d)
        behaviour = f"answers the host's call ({fields['outcome']})"
        host_cfg = self.loaded.profile.central.mcu
        if up.dials == "national" and self.mcu is not None and host_cfg is not None:
            self.mcu.state.expected_dial_ins.append(
                ExpectedDialIn(
                    name=up.name[:31],
                    address=up.address,
                    numeric_id=host_cfg.conference.numeric_id or "",
                    conference_name=host_cfg.conference.name,
                    protocol=up.protocol,
                    dial_latency_s=fields["dial_latency_s"],
                    packet_loss_pct=fields["packet_loss_pct"],
                )
            )
            behaviour = f"dials into {host_cfg.conference.name}"
        if fields["packet_loss_pct"]:
            behaviour += f", loss {fields['packet_loss_pct']:g} %"
        target = dial_target(up.address)
        hostport = target[1] if target else ""
        host, _, port = hostport.rpartition(":")
        if host != "127.0.0.1" or not port.isdigit():
            return None  # not localized: no listener; the MCU simulators still answer its calls
        sim: Simulator
        if up.protocol == "sip":
            sim = SipResponder(transport="udp", host=host, port=int(port))
            where = f"sip udp {host}:{port}"
        else:
            sim = H323Sim(host=host, port=int(port))
            where = f"h323 tcp {host}:{port}"
        return Entry(UPSTREAM, type(sim).__name__, where, behaviour, sim)

    def _recorder(self, point: PointConfig) -> Entry:
        from hil.sim.sip import SipResponder

        rec = point.recorder
        assert rec is not None
        dev = f"{point.id}.{rec.id}"
        port = rec.port or 5060
        if self.scenario.device(dev).down:
            return Entry(dev, "recorder", "", "down", None)
        return Entry(
            dev,
            "SipResponder",
            f"sip udp {rec.host}:{port}",
            "recorder",
            SipResponder(transport="udp", host=rec.host, port=port),
        )

    def _recorder_files(self, point: PointConfig) -> Entry | None:
        """The recorder's growing file, written while the MCU has the recorder's call up."""
        from hil.sim.recorder_files import RecordingWriter

        rec = point.recorder
        if rec is None or rec.storage is None:
            return None
        dev = f"{point.id}.{rec.id}"
        behaviour = self.scenario.device(dev)
        if behaviour.down:
            return None
        base = self.state_dir or (
            Path(os.environ["MCU_CONTROL_STATE_DIR"])
            if os.environ.get("MCU_CONTROL_STATE_DIR")
            else None
        )
        if base is None and not rec.storage.directory.is_absolute():
            log.warning("%s: no state directory given; the simulated recorder writes no file", dev)
            return None
        directory = rec.storage.resolved(base or Path("/"))
        pattern = rec.storage.pattern
        prefix, _, suffix = pattern.partition("*") if "*" in pattern else ("", "", pattern)
        suffix = suffix.rsplit("*", 1)[-1].replace("?", "x")
        address = rec.address

        def connected() -> bool:
            if self.mcu is None:
                return False
            state = self.mcu.state
            state.tick()
            return any(
                p.address == address and p.state == "connected" for p in state.participants.values()
            )

        writer = RecordingWriter(
            directory,
            connected,
            prefix=(prefix.replace("?", "x") or "ghi-hinh-"),
            suffix=suffix,
            stall_after_s=behaviour.recording_stall_after_s,
        )
        self.recorder_files = writer
        stall = behaviour.recording_stall_after_s
        return Entry(
            f"{dev}.files",
            "RecordingWriter",
            str(directory),
            "growing file" + (f", stalls after {stall:g} s" if stall is not None else ""),
            writer,
        )


# ---------------------------------------------------------------------- simulators by name


@simulator("sip", "h323")
def _codec(rig: Rig, point: PointConfig, cfg: CodecConfig) -> Entry:
    from hil.sim.sip import H323Sim, SipResponder

    dev = f"{point.id}.{cfg.id}"
    b = rig.scenario.device(dev)
    behaviour = ", ".join(f"{k}={v}" for k, v in b.model_dump(exclude_defaults=True).items())
    if b.down:
        return Entry(dev, "codec", "", "down", None)
    sim: Simulator
    if spec("Codec", cfg.driver).simulator == "sip":
        sim = SipResponder(transport=cfg.transport, host=cfg.host, port=cfg.effective_port)
        where = f"sip {cfg.transport} {cfg.host}:{cfg.effective_port}"
    else:
        sim = H323Sim(host=cfg.host, port=cfg.effective_port)
        where = f"h323 tcp {cfg.host}:{cfg.effective_port}"
    return Entry(dev, type(sim).__name__, where, behaviour, sim)


@dataclass(frozen=True)
class _Motion:
    """What every camera simulator is given: move time, preset positions, VISCA ranges."""

    move: float
    positions: dict[str, tuple[float, float, float]]
    ranges: dict[str, int] | None
    clock_offset_s: float

    def behaviour(self) -> str:
        clock = f", clock {self.clock_offset_s:+g} s" if self.clock_offset_s else ""
        return f"move {self.move:g} s{clock}"


def _camera(rig: Rig, point: PointConfig, cam: CameraConfig) -> tuple[str, _Motion | None]:
    """A camera's device id and how its simulator moves (None: the scenario has it down)."""
    dev = f"{point.id}.{cam.id}"
    b = rig.scenario.device(dev)
    return dev, None if b.down else _motion(rig, cam, b)


def _motion(rig: Rig, cam: CameraConfig, b: Any) -> _Motion:
    from hil.sim.ptz_motion import spread_presets

    move = b.move_time_s if b.move_time_s is not None else rig.scenario.defaults.move_time_s
    positions = spread_presets(list(cam.presets.values()))
    return _Motion(
        move, positions, _visca_ranges(rig.loaded.models.get(cam.model)), b.clock_offset_s or 0.0
    )


@simulator("onvif-camera")
def _onvif_camera(rig: Rig, point: PointConfig, cam: CameraConfig) -> Entry:
    from hil.sim.onvif_cam import OnvifCameraSim

    dev, m = _camera(rig, point, cam)
    if m is None:
        return Entry(dev, "camera", "", "down", None)
    assert cam.password is not None
    assert cam.username is not None
    presets = {tok: (name, *m.positions[tok]) for name, tok in cam.presets.items()}
    sim = OnvifCameraSim(
        host=cam.host or "127.0.0.1",
        port=cam.effective_port or 80,
        username=cam.username,
        password=cam.password.resolve(base_dir=rig.loaded.path.parent).reveal(),
        clock_offset_s=m.clock_offset_s,
        presets=presets,
        move_time_s=m.move,
    )
    where = f"http://{cam.host}:{cam.effective_port}/onvif/device_service"
    return Entry(dev, "OnvifCameraSim", where, m.behaviour(), sim)


@simulator("visca-ip")
def _visca_ip(rig: Rig, point: PointConfig, cam: CameraConfig) -> Entry:
    from hil.sim.visca_cam import ViscaIpSim

    dev, m = _camera(rig, point, cam)
    if m is None:
        return Entry(dev, "camera", "", "down", None)
    sim = ViscaIpSim(
        host=cam.host or "127.0.0.1",
        port=cam.effective_port or 52381,
        presets={int(n): m.positions[n] for n in cam.presets.values()},
        move_time_s=m.move,
        ranges=m.ranges,
    )
    return Entry(dev, "ViscaIpSim", f"udp {cam.host}:{cam.effective_port}", m.behaviour(), sim)


@simulator("visca-serial")
def _visca_serial(rig: Rig, point: PointConfig, cam: CameraConfig) -> Entry:
    from hil.sim.visca_cam import ViscaSerialSim

    dev, m = _camera(rig, point, cam)
    if m is None:
        return Entry(dev, "camera", "", "down", None)
    assert cam.serial is not None
    sim = ViscaSerialSim(
        host="127.0.0.1",
        port=_url_port(cam.serial.port),
        address=cam.visca_address,
        presets={int(n): m.positions[n] for n in cam.presets.values()},
        move_time_s=m.move,
        ranges=m.ranges,
    )
    return Entry(dev, "ViscaSerialSim", cam.serial.port, m.behaviour(), sim)


@simulator("snmpsim")
def _snmp(rig: Rig, point: PointConfig, mixer: MixerConfig) -> Entry | None:
    """SNMP mixers share one snmpsim process, started by `Rig._build` after every device."""
    dev = f"{point.id}.{mixer.id}"
    assert mixer.snmp is not None
    assert mixer.host is not None
    if rig.scenario.device(dev).down:
        return Entry(dev, "snmpsim", "", "down", None)
    if mixer.snmp.community is not None:
        rig._snmp_community = mixer.snmp.community.resolve(base_dir=rig.loaded.path.parent).reveal()
    rig._snmp_endpoints.append((mixer.host, mixer.effective_port or 161))
    rig._snmp_devices.append(dev)
    return None


@simulator("tesira-telnet", "tesira-serial")
def _tesira(rig: Rig, point: PointConfig, mixer: MixerConfig) -> Entry:
    from hil.sim.tesira import TesiraSim

    dev = f"{point.id}.{mixer.id}"
    if rig.scenario.device(dev).down:
        return Entry(dev, "TesiraSim", "", "down", None)
    sizes: dict[str, int] = {}
    for ch in mixer.channels.values():
        if ch.block:
            sizes[ch.block] = max(sizes.get(ch.block, 0), ch.index)
    model = rig.loaded.mixer_model(mixer.model)
    delay = rig.scenario.defaults.mixer_latency_s
    blocks: dict[str, dict[str, Any]] = {
        tag: {
            "type": "level",
            "channels": n,
            "min": model.level_min_db,
            "max": model.level_max_db,
        }
        for tag, n in sizes.items()
    }
    if model.ttp is not None and model.ttp.meter_block:
        blocks[model.ttp.meter_block] = {
            "type": "meter",
            "channels": max(sizes.values(), default=1),
        }
    if spec("AudioMixer", mixer.driver).link != "serial":
        port = mixer.effective_port or 23
        sim = TesiraSim(
            transport="telnet",
            host=mixer.host or "127.0.0.1",
            port=port,
            blocks=blocks,
            reply_delay_s=delay,
        )
        where = f"telnet {mixer.host}:{port}"
    else:
        assert mixer.serial is not None
        sim = TesiraSim(
            transport="serial-tcp",
            host="127.0.0.1",
            port=_url_port(mixer.serial.port),
            blocks=blocks,
            reply_delay_s=delay,
        )
        where = mixer.serial.port
    behaviour = f"blocks {', '.join(blocks)}" + (f", reply {delay * 1000:g} ms" if delay else "")
    return Entry(dev, "TesiraSim", where, behaviour, sim)


def _call_fields(b: Any, d: Any) -> dict[str, Any]:
    return {
        "dial_latency_s": b.dial_latency_s if b.dial_latency_s is not None else d.dial_latency_s,
        "outcome": b.outcome or "answer",
        "packet_loss_pct": b.packet_loss_pct
        if b.packet_loss_pct is not None
        else d.packet_loss_pct,
    }


def _visca_ranges(model: object) -> dict[str, int] | None:
    if isinstance(model, CameraModel) and model.visca is not None:
        v = model.visca
        return {
            "pan_min": v.pan_min,
            "pan_max": v.pan_max,
            "tilt_min": v.tilt_min,
            "tilt_max": v.tilt_max,
            "zoom_max": v.zoom_max,
            "pan_speed_max": v.pan_speed_max,
            "tilt_speed_max": v.tilt_speed_max,
            "preset_max": v.preset_max,
        }
    return None


def _url_port(url: str) -> int:
    m = _URL_PORT.match(url)
    if m is None:
        raise ValueError(f"the rig serves serial lines as socket://127.0.0.1:PORT, not {url!r}")
    return int(m.group(1))
