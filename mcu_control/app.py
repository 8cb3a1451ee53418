"""The composition root: a daemon wired with the orchestrator, supervisors and the MQTT feed."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mcu_control.audit import AuditLog, audit_gap
from mcu_control.daemon import Daemon, DaemonConfig
from mcu_control.drill import Drill
from mcu_control.mqtt.commands import CommandRouter
from mcu_control.runtime import OrchestratorActions, SiteHolder, SupervisorComponent
from mcu_control.state import StateStore
from profiles.loader import LoadedProfile

log = logging.getLogger("mcu_control.app")


@dataclass
class FeedOptions:
    url: str | None = None  # --mqtt-url; else env, else the profile's; else an embedded broker
    embedded: bool = True  # start an embedded broker when no URL is known
    embedded_port: int = 0
    embedded_bind: str | None = None  # --mqtt-bind; else the profile's mqtt.embedded_bind


class EmbeddedBrokerComponent:
    """The in-process demo broker, started before the feed and stopped after it."""

    name = "embedded-broker"
    active_only = True

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        from mcu_control.mqtt.embedded import EmbeddedBroker

        self.broker = EmbeddedBroker(host=host, port=port)
        self.started = asyncio.Event()  # set once the broker listens (its port is then final)

    async def start(self) -> None:
        if self.broker.port and not port_free(self.broker.port, self.broker.host):
            log.warning(
                "port %d is taken (a system broker?): the embedded broker takes a free port",
                self.broker.port,
            )
            self.broker.port = 0
        await self.broker.start()
        self.started.set()
        log.info("no MQTT broker configured: embedded broker on %s", self.broker.url)

    async def stop(self) -> None:
        await self.broker.stop()


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on host:port (TCP)."""
    import socket

    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class FeedComponent:
    """The MQTT feed as a daemon component; its URL may come from an embedded broker."""

    name = "mqtt-feed"
    active_only = True

    def __init__(
        self,
        holder: SiteHolder,
        url: str | None,
        audit: AuditLog,
        commands: CommandRouter,
        broker: EmbeddedBrokerComponent | None,
    ) -> None:
        self.holder = holder
        self.url = url
        self.audit = audit
        self.commands = commands
        self.broker = broker
        self.feed: Any = None

    async def start(self) -> None:
        from mcu_control.mqtt.feed import MqttFeed

        url: str | None = self.url
        protocol: Literal["5", "3.1.1"] | None = None
        if self.broker is not None:
            url, protocol = self.broker.broker.url, "3.1.1"
        loaded = self.holder.site.loaded
        self.feed = MqttFeed(
            loaded,
            self.holder.store,
            url=url,
            audit=self.audit,
            commands=self.commands,
            protocol=protocol,
            commands_refused=EMBEDDED_REFUSAL if self.broker is not None else None,
        )
        await self.feed.start()

    async def stop(self) -> None:
        if self.feed is not None:
            await self.feed.stop()

    async def reload(self, loaded: LoadedProfile) -> None:
        if self.feed is not None:
            await self.feed.reload(loaded)


EMBEDDED_REFUSAL = (
    "MQTT commands are refused on the embedded broker: it has no authentication, so anyone "
    "who can reach it could drive the site; set mqtt.url to a broker with accounts and ACLs"
)


# reads cost ~2 ms of CPU each (docs/performance.md); a 9-point site (~40 devices every 15 s)
# needs ~3 a second, so the cap only binds on sites of more than ~25 points
DEFAULT_HEALTH_READS_PER_S = 8.0


def build_daemon(
    loaded: LoadedProfile,
    *,
    state_dir: Path,
    config: DaemonConfig | None = None,
    feed: FeedOptions | None = None,
    supervise_interval_s: float = 15.0,
    device_timeout_s: float = 5.0,
    health_reads_per_s: float | None = DEFAULT_HEALTH_READS_PER_S,
) -> Daemon:
    """A daemon that runs the real orchestrator on schedule, supervises devices and publishes."""
    from mcu_control.mqtt.config import resolve_url

    store = StateStore()
    audit = AuditLog(state_dir / "audit.jsonl")
    # a scheduled job goes on when the log cannot be written; the gap is alerted
    audit.on_gap = lambda action, target, exc: audit_gap(store, audit.path, action, target, exc)
    holder = SiteHolder(loaded, store, audit)
    daemon = Daemon(
        loaded,
        state_dir=state_dir,
        config=config,
        store=store,
        audit=audit,
        actions=OrchestratorActions(holder, state_dir),
    )
    daemon.add_component(
        SupervisorComponent(
            holder,
            interval_s=supervise_interval_s,
            timeout_s=device_timeout_s,
            reads_per_s=health_reads_per_s,
        )
    )
    opts = feed or FeedOptions()
    url = resolve_url(loaded.profile.mqtt.url, opts.url)
    broker = None
    if url is None:
        if not opts.embedded:
            log.warning("no MQTT broker configured and the embedded one is off: no status feed")
            return daemon
        bind = opts.embedded_bind or str(loaded.profile.mqtt.embedded_bind)
        broker = EmbeddedBrokerComponent(opts.embedded_port, bind)
        daemon.add_component(broker)
    daemon.add_component(FeedComponent(holder, url, audit, command_router(holder, daemon), broker))
    return daemon


def command_router(holder: SiteHolder, daemon: Daemon | None = None) -> CommandRouter:
    """MQTT command handlers; the feed runs only the ones the profile's allow-list names."""

    async def guarded(work: Any) -> dict[str, Any]:
        if daemon is not None and not daemon.active:
            raise ValueError("this daemon is the standby; the active one handles commands")
        async with holder.lock:
            result: dict[str, Any] = await work
            return result

    async def drill(params: dict[str, Any]) -> dict[str, Any]:
        points = _str_list(params.get("points"))
        quick = bool(params.get("quick", False))
        return await guarded(_drill(holder, points, quick))

    async def bringup_cmd(params: dict[str, Any]) -> dict[str, Any]:
        from mcu_control.bringup import bringup

        async def work() -> dict[str, Any]:
            r = await bringup(holder.site, points=_str_list(params.get("points")))
            return {
                "verdict": r.verdict.value,
                "connected": r.connected,
                "total": len(r.points),
                "recording": r.recording,
                "failed": {p.point: p.reason for p in r.points if not p.connected},
            }

        return await guarded(work())

    async def teardown_cmd(params: dict[str, Any]) -> dict[str, Any]:
        from mcu_control.bringup import teardown

        return await guarded(teardown(holder.site, points=_str_list(params.get("points"))))

    async def camera_preset(params: dict[str, Any]) -> dict[str, Any]:
        point = _point(holder, params)
        cam_id = str(params.get("camera", point.cameras[0].id))
        cam = next((c for c in point.cameras if c.id == cam_id), None)
        if cam is None:
            raise ValueError(f"point {point.id} has no camera {cam_id!r}")
        preset = str(params.get("preset", cam.session_preset))
        token = cam.presets.get(preset, preset if preset in cam.presets.values() else None)
        if token is None:
            raise ValueError(f"camera {point.id}.{cam_id} has no preset {preset!r}")

        async def work() -> dict[str, Any]:
            camera = await holder.site.camera(point, cam)
            status = await camera.goto_preset(
                token, wait=True, timeout_s=holder.site.profile.bringup.preset_timeout_s
            )
            return {"camera": f"{point.id}.{cam_id}", "preset": preset, "moving": status.moving}

        return await guarded(work())

    async def mixer_mute(params: dict[str, Any]) -> dict[str, Any]:
        point = _point(holder, params)
        if point.mixer is None:
            raise ValueError(f"point {point.id} has no mixer")
        channel = str(params.get("channel", ""))
        if channel not in point.mixer.channels:
            raise ValueError(f"mixer {point.id}.{point.mixer.id} has no channel {channel!r}")
        muted = params.get("muted", True)
        if not isinstance(muted, bool):
            raise ValueError("`muted` must be true or false")  # noqa: TRY004 — answered as bad-params

        async def work() -> dict[str, Any]:
            mixer = await holder.site.mixer(point)
            await mixer.set_mute(channel, muted)
            return {
                "mixer": f"{point.id}.{point.mixer.id}" if point.mixer else "",
                "channel": channel,
                "muted": await mixer.get_mute(channel),
            }

        return await guarded(work())

    return {
        "drill": drill,
        "bringup": bringup_cmd,
        "teardown": teardown_cmd,
        "camera-preset": camera_preset,
        "mixer-mute": mixer_mute,
    }


async def _drill(holder: SiteHolder, points: list[str] | None, quick: bool) -> dict[str, Any]:
    report = await Drill(holder.site, points=points, quick=quick, label="mqtt").run()
    return report.summary()


def _point(holder: SiteHolder, params: dict[str, Any]) -> Any:
    point_id = str(params.get("point", ""))
    try:
        return holder.site.profile.point(point_id)
    except KeyError:
        raise ValueError(f"unknown point {point_id!r}") from None


def _str_list(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError("`points` must be a point id or a list of point ids")
