"""The composition root: a daemon wired with the orchestrator, supervisors and the MQTT feed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mcu_control.audit import AuditLog, audit_gap
from mcu_control.daemon import Daemon, DaemonConfig
from mcu_control.mqtt.actions import SESSION_AND_POINTS
from mcu_control.mqtt.commands import CommandRouter
from mcu_control.orchestrator import Orchestrator
from mcu_control.roster import SessionRoster
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
    holder = SiteHolder(loaded, store, audit, state_dir=state_dir)
    actions = OrchestratorActions(holder, state_dir)
    daemon = Daemon(
        loaded, state_dir=state_dir, config=config, store=store, audit=audit, actions=actions
    )
    daemon.add_component(actions.records)  # stops the session's recording check with the daemon
    from mcu_control.drillstore import DrillStore
    from mcu_control.statusd import StatusSocketComponent

    last = DrillStore(state_dir / "drills.sqlite").last()
    if last is not None:  # `status` and panels show the stored last drill from the start
        store.set_last_drill(last.summary())
    site = loaded.profile.site
    daemon.add_component(
        StatusSocketComponent(
            store,
            state_dir,
            loaded.profile.central.id,
            {"id": site.id, "name": site.name, "timezone": site.timezone},
        )
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
            log.info("no MQTT broker configured and the embedded one is off: no status feed")
            return daemon
        bind = opts.embedded_bind or str(loaded.profile.mqtt.embedded_bind)
        broker = EmbeddedBrokerComponent(opts.embedded_port, bind)
        daemon.add_component(broker)
    daemon.add_component(FeedComponent(holder, url, audit, command_router(holder, daemon), broker))
    return daemon


def command_router(holder: SiteHolder, daemon: Daemon | None = None) -> CommandRouter:
    """MQTT command handlers over the orchestrator; the feed runs only the allowed ones."""

    async def guarded(work: Callable[[Orchestrator], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        if daemon is not None and not daemon.active:
            raise ValueError("this daemon is the standby; the active one handles commands")
        async with holder.lock:
            return await work(holder.orchestrator())

    async def targets(params: dict[str, Any]) -> tuple[list[str] | None, dict[str, Any]]:
        """The points to run (a session's roster, or `points`) and what the reply says of it."""
        points, session = _str_list(params.get("points")), params.get("session")
        if session is None:
            _check(lambda: holder.orchestrator().resolve_points(points))
            return points, {"session": None, "national": False}
        if points:
            raise ValueError(SESSION_AND_POINTS)
        found = await _session_roster(holder, str(session), daemon)
        return list(found.points), {"session": found.session_id, "national": found.national}

    async def drill(params: dict[str, Any]) -> dict[str, Any]:
        points, which = await targets(params)
        quick = bool(params.get("quick", False))

        async def work(o: Orchestrator) -> dict[str, Any]:
            report = await o.drill(
                points=points, quick=quick, label="mqtt", national=which["national"]
            )
            return {**report.summary(), **which}

        return await guarded(work)

    async def bringup_cmd(params: dict[str, Any]) -> dict[str, Any]:
        points, which = await targets(params)

        async def work(o: Orchestrator) -> dict[str, Any]:
            r = await o.bringup(points=points, national=which["national"])
            return {
                "verdict": r.verdict.value,
                "connected": r.connected,
                "total": len(r.points),
                "recording": r.recording,
                "failed": {p.point: p.reason for p in r.points if not p.connected},
                **which,
            }

        return await guarded(work)

    async def teardown_cmd(params: dict[str, Any]) -> dict[str, Any]:
        points = _str_list(params.get("points"))
        _check(lambda: holder.orchestrator().resolve_points(points))
        return await guarded(lambda o: o.teardown(points=points))

    async def camera_preset(params: dict[str, Any]) -> dict[str, Any]:
        point, camera, preset = (
            _opt_str(params, "point"),
            params.get("camera"),
            params.get("preset"),
        )
        _check(lambda: holder.orchestrator().resolve_preset(point, _opt(camera), _opt(preset)))
        return await guarded(lambda o: o.goto_preset(point, _opt(camera), _opt(preset)))

    async def mixer_mute(params: dict[str, Any]) -> dict[str, Any]:
        point, channel = _opt_str(params, "point"), _opt_str(params, "channel")
        muted = params.get("muted", True)
        if not isinstance(muted, bool):
            raise ValueError("`muted` must be true or false")  # noqa: TRY004 — answered as bad-params
        _check(lambda: holder.orchestrator().resolve_channel(point, channel))
        return await guarded(lambda o: o.set_mute(point, channel, muted))

    return {
        "drill": drill,
        "bringup": bringup_cmd,
        "teardown": teardown_cmd,
        "camera-preset": camera_preset,
        "mixer-mute": mixer_mute,
    }


async def _session_roster(holder: SiteHolder, session: str, daemon: Daemon | None) -> SessionRoster:
    """A session's roster for a command: the profile's sessions and, with a daemon, those
    added with `schedule add` (its scheduler database). An unknown session is a ValueError
    (answered `bad-params`); a database that cannot be read, a TransportError."""
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from devices.errors import ConfigError, TransportError
    from mcu_control.roster import session_roster, stored_session_roster

    profile = holder.site.profile
    try:
        if daemon is None:
            return session_roster(profile, session)
        return await asyncio.to_thread(stored_session_roster, profile, session, daemon.db)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    except (SQLAlchemyError, OSError, sqlite3.Error) as exc:
        from devices.secrets import redact

        log.warning("cannot read the scheduler database: %s", redact(str(exc)))
        raise TransportError(
            "cannot read the sessions added with `schedule add` (the scheduler database); "
            "the daemon's log says why",
            device="scheduler-database",
        ) from None


def _check(resolve: Callable[[], object]) -> None:
    """Resolve the parameters before any I/O; a mistake is answered as bad-params."""
    from devices.errors import ConfigError

    try:
        resolve()
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _opt_str(params: dict[str, Any], key: str) -> str:
    value = params.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"`{key}` must be a string")  # noqa: TRY004 — answered as bad-params
    return value


def _opt(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("`camera` and `preset` must be strings")  # noqa: TRY004
    return value


def _str_list(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError("`points` must be a point id or a list of point ids")
