"""The daemon: one asyncio process holding the scheduler, the state store and the components.

Composition root. The orchestrator's actions and the device supervisors / MQTT feed are handed
in (``actions=``, ``components=`` or `add_component`), so this module stays small:

    daemon = Daemon(loaded, state_dir=paths.state_dir(), actions=orchestrator,
                    components=[supervisors, feed])
    await daemon.run()          # until SIGTERM/SIGINT; SIGHUP reloads the profile
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mcu_control.audit import AuditLog, audit_gap
from mcu_control.roster import next_session
from mcu_control.sdnotify import Notifier, watchdog_interval
from mcu_control.state import SessionPhase, SessionState, StateStore
from mcu_control.ticks import until_tick
from scheduler.actions import LoggingActions, SessionActions
from scheduler.calendar import Calendar
from scheduler.clock import Clock, SystemClock
from scheduler.db import ScheduleDb
from scheduler.leader import FileLeadership, Leadership, PgAdvisoryLeadership, lock_key, pg_conninfo
from scheduler.plan import Horizon
from scheduler.service import RunningJobs, SessionScheduler

if TYPE_CHECKING:
    from profiles.loader import LoadedProfile

log = logging.getLogger("mcu_control.daemon")


class Component(Protocol):
    """Something the daemon starts after the state store and stops before exiting.

    A component with a true `active_only` attribute runs only while this daemon holds the
    active lock (the MQTT feed, supervisors): a standby of a redundant pair stays silent, so
    the active daemon's last will is not answered by a standby still saying "online".
    """

    name: str

    async def start(self) -> None:
        """Start background work and return promptly (never wait for a device)."""
        ...

    async def stop(self) -> None:
        """Stop and release everything; must return within a few seconds."""
        ...


@runtime_checkable
class Reloadable(Protocol):
    """Optional: components with this hook are told about a new, valid profile."""

    async def reload(self, loaded: LoadedProfile) -> None: ...


@dataclass
class DaemonConfig:
    """Knobs of the daemon; the defaults suit production."""

    database_url: str | None = None  # None: SQLite file in the state directory
    database_schema: str | None = None  # PostgreSQL schema shared by a redundant pair
    node_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    leader_poll_s: float = 2.0  # standby retries the lock / active pings it this often
    replan_interval_s: float = 300.0  # roll the horizon forward
    component_timeout_s: float = 10.0  # per component start
    stop_timeout_s: float = 4.0  # everything must be down within this (SIGTERM → exit < 5 s)
    late_after_s: float = 60.0  # a job this late is reported as caught up after a miss
    # a claimed job whose heartbeat stops this long was left by a dead daemon: take it over
    job_stale_after_s: float = 30.0
    #: how often the active daemon sweeps the ledger for a dead daemon's jobs and checks for
    #: schedule changes made by the CLI (bounded by 5 leader polls and a third of the above)
    sweep_interval_s: float = 10.0
    horizon: Horizon = field(default_factory=Horizon)

    def resolved_database_url(self, state_dir: Path) -> str:
        return self.database_url or f"sqlite:///{state_dir / 'scheduler.sqlite'}"


class Daemon:
    """Scheduler + state store + components in one event loop, with leadership and reload."""

    def __init__(
        self,
        loaded: LoadedProfile,
        *,
        state_dir: Path,
        actions: SessionActions | None = None,
        components: Sequence[Component] = (),
        clock: Clock | None = None,
        config: DaemonConfig | None = None,
        store: StateStore | None = None,
        audit: AuditLog | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.loaded = loaded
        self.state_dir = state_dir
        self.config = config or DaemonConfig()
        self.clock: Clock = clock or SystemClock()
        self.store = store or StateStore(clock=self.clock.now)
        self.audit = audit or AuditLog(state_dir / "audit.jsonl")
        if self.audit.on_gap is None:  # the daemon goes on without its log, and says so
            self.audit.on_gap = lambda action, target, exc: audit_gap(
                self.store, self.audit.path, action, target, exc
            )
        self.actions: SessionActions = actions or LoggingActions(self.audit.append)
        self.components: list[Component] = list(components)
        self.notifier = notifier or Notifier()
        self.db = ScheduleDb(
            self.config.resolved_database_url(state_dir),
            schema=self.config.database_schema,
            application_name=f"mcu-control/{self.config.node_id}",
        )
        self.leadership = self._leadership()
        self.scheduler: SessionScheduler | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._reload_requested = False
        self._standby_logged = False  # "is standby" is said once per stretch as standby
        self._changes_seen: tuple[int, ...] | None = None
        self._started: list[Component] = []
        self._detached: set[asyncio.Task[None]] = set()  # jobs left running by a step-down
        self.running = RunningJobs()  # beats for every job this process runs, active or not

    @property
    def active(self) -> bool:
        """True while this daemon holds the lock and its scheduler runs."""
        return self.scheduler is not None

    def add_component(self, component: Component) -> None:
        """Register a component before run()."""
        self.components.append(component)

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload_requested = True
        self._wake.set()

    async def run(self, *, install_signals: bool = True) -> None:
        """Run until request_stop() (SIGTERM/SIGINT); SIGHUP reloads the profile."""
        loop = asyncio.get_running_loop()
        if install_signals:
            loop.add_signal_handler(signal.SIGTERM, self.request_stop)
            loop.add_signal_handler(signal.SIGINT, self.request_stop)
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        watchdog: asyncio.Task[None] | None = None
        try:
            self.store.seed(self.loaded.profile)
            await self._start_components()
            self.audit.append("daemon.start", actor="daemon", node=self.config.node_id)
            self.notifier.notify("READY=1\nSTATUS=standby until the active lock is held")
            interval = watchdog_interval()
            if interval is not None:
                watchdog = asyncio.create_task(self._watchdog(interval), name="sd-watchdog")
            await self._main_loop()
        finally:
            self.notifier.notify("STOPPING=1")
            try:
                async with asyncio.timeout(self.config.stop_timeout_s):
                    await self._shutdown()
            except TimeoutError:
                log.error(  # noqa: TRY400 — a known condition, no traceback
                    "shutdown took over %.0f s; exiting anyway", self.config.stop_timeout_s
                )
            if watchdog is not None:
                watchdog.cancel()
                await asyncio.gather(watchdog, return_exceptions=True)
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)
            with contextlib.suppress(Exception):
                self.db.dispose()

    async def reload(self) -> bool:
        """Re-read the profile file; keep the old one (and say why) if the new one is invalid."""
        from devices.errors import ConfigError
        from profiles.loader import load_profile

        path = self.loaded.path
        try:
            new = await asyncio.to_thread(load_profile, path)
        except ConfigError as exc:
            log.error(  # noqa: TRY400 — the message lists every problem; no traceback
                "profile reload failed, keeping the running profile: %s", exc.message
            )
            self.audit.append(
                "daemon.reload-failed", actor="daemon", target=str(path), error=exc.message
            )
            self.store.event("profile-reload-failed", file=str(path), error=exc.message)
            return False
        self.loaded = new
        log.info("profile reloaded from %s", path)
        self.audit.append("daemon.reload", actor="daemon", target=str(path))
        self.store.event("profile-reloaded", file=str(path))
        if self.scheduler is not None:
            await self._replan(force_calendar=True)
        for comp in self._started:
            if isinstance(comp, Reloadable):
                try:
                    await asyncio.wait_for(comp.reload(new), self.config.component_timeout_s)
                except Exception:
                    log.exception("component %s failed to reload", comp.name)
        return True

    async def build_calendar(self) -> Calendar:
        """The profile's sessions plus the persisted schedule changes."""
        records = await asyncio.to_thread(self.db.changes)
        self._changes_seen = tuple(r.id for r in records)
        p = self.loaded.profile
        return Calendar(p.sessions, p.site.timezone, [r.change for r in records])

    # ------------------------------------------------------------------ internals

    async def _main_loop(self) -> None:
        last_replan = self.clock.now()
        # the ledger sweep and the schedule-changes check read the database: every few ticks,
        # not every tick (a dead daemon's job is stale only after job_stale_after_s anyway)
        every = max(
            self.config.leader_poll_s,
            min(
                self.config.sweep_interval_s,
                5 * self.config.leader_poll_s,
                self.config.job_stale_after_s / 3,
            ),
        )
        last_sweep = -every
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            if self._reload_requested:
                self._reload_requested = False
                await self.reload()
            await self._leader_tick()
            await self.running.beat(self.db)
            if self.scheduler is not None and loop.time() - last_sweep >= every * 0.999:
                last_sweep = loop.time()
                await self._sweep()
                now = self.clock.now()
                due = (now - last_replan).total_seconds() >= self.config.replan_interval_s
                if due or await self._changes_moved():
                    await self._replan(force_calendar=True)
                    last_replan = now
            self._wake.clear()
            with contextlib.suppress(TimeoutError):  # on the grid: one wake-up with the reads
                await asyncio.wait_for(self._wake.wait(), until_tick(self.config.leader_poll_s))

    async def _leader_tick(self) -> None:
        if self.scheduler is None:
            acquired = await self.leadership.try_acquire()
            if not acquired and not self._standby_logged:
                self._standby_logged = True  # once per stretch as standby, not every poll
                log.info(
                    "node %s is standby: %s; it takes over when that lock is free",
                    self.config.node_id,
                    self._standby_why(),
                )
            if acquired:
                try:
                    await self._activate()
                except Exception as exc:
                    log.exception("activation failed; staying standby")
                    await self._step_down(f"activation failed: {type(exc).__name__}: {exc}")
                    await self.leadership.release()
        elif not await self.leadership.still_held():
            await self._step_down("lost the active lock")

    async def _activate(self) -> None:
        await asyncio.to_thread(self.db.create)
        calendar = await self.build_calendar()
        sched = SessionScheduler(
            db=self.db,
            calendar=calendar,
            plan=self.loaded.profile.sessions.plan,
            actions=self.actions,
            clock=self.clock,
            node=self.config.node_id,
            audit=self.audit.append,
            on_event=self._on_event,
            horizon=self.config.horizon,
            late_after_s=self.config.late_after_s,
            stop_grace_s=max(0.5, self.config.stop_timeout_s / 2),
            running=self.running,
            stale_after_s=self.config.job_stale_after_s,
        )
        try:
            await sched.start()
            report = await asyncio.to_thread(sched.replan)
        except BaseException:
            await sched.stop()
            raise
        sched.resume()
        self.scheduler = sched
        self._standby_logged = False
        log.info(
            "node %s is active: %d jobs planned, %d caught up, %d missed",
            self.config.node_id,
            report.scheduled,
            len(report.catch_up),
            len(report.missed),
        )
        self.audit.append(
            "daemon.active",
            actor="daemon",
            node=self.config.node_id,
            planned=report.scheduled,
            catch_up=report.catch_up,
            missed=report.missed,
        )
        self.store.event("daemon-active", node=self.config.node_id)
        self.notifier.notify(f"STATUS=active ({report.scheduled} jobs planned)")
        await self._start_components(active_only=True)
        await self._announce_next()

    async def _step_down(self, why: str) -> None:
        sched, self.scheduler = self.scheduler, None
        if sched is not None:
            self._detached |= await sched.stop(detach=True)
        await self._stop_active_components()
        log.info("node %s steps down to standby: %s", self.config.node_id, why)
        self.audit.append("daemon.standby", actor="daemon", node=self.config.node_id, reason=why)
        self.store.event("daemon-standby", node=self.config.node_id, reason=why)
        self.notifier.notify("STATUS=standby (lost the active lock)")

    async def _announce_next(self) -> None:
        """Put the next session and its roster in the store, so panels count down from it.

        Called at activation and after every re-plan (schedule change, reload); a session
        that is being drilled, brought up or held keeps its own announcement (runtime.py).
        """
        sched = self.scheduler
        if sched is None or self.store.session.phase is not SessionPhase.IDLE:
            return
        try:  # the calendar's expansion (holiday tables) must not hold the event loop
            state = await asyncio.to_thread(
                next_session, self.loaded, sched.calendar, self.clock.now()
            )
        except Exception:  # the countdown is a courtesy: never let it stop a re-plan
            log.exception("cannot compute the next session for the countdown")
            return
        current = self.store.session
        if current.phase is not SessionPhase.IDLE:
            return
        self.store.set_session(state or SessionState(recording=current.recording))

    async def _replan(self, *, force_calendar: bool) -> None:
        sched = self.scheduler
        if sched is None:
            return
        if force_calendar:
            calendar = await self.build_calendar()
            sched.update(calendar, self.loaded.profile.sessions.plan)
        report = await asyncio.to_thread(sched.replan)
        await self._announce_next()
        if report.added or report.removed or report.missed:
            log.info(
                "re-planned: %d jobs (%d added, %d removed, %d missed)",
                report.scheduled,
                report.added,
                report.removed,
                len(report.missed),
            )

    async def _sweep(self) -> None:
        sched = self.scheduler
        if sched is None:
            return
        try:
            await sched.sweep()
        except Exception:
            log.exception("cannot check the ledger for jobs left by a dead daemon")

    async def _changes_moved(self) -> bool:
        try:
            ids = tuple(r.id for r in await asyncio.to_thread(self.db.changes))
        except Exception:
            log.exception("cannot read schedule changes")
            return False
        return ids != self._changes_seen

    async def _start_components(self, *, active_only: bool = False) -> None:
        """Start the always-on components, or (on activation) the active-only ones."""
        for comp in self.components:
            if bool(getattr(comp, "active_only", False)) != active_only or comp in self._started:
                continue
            try:
                await asyncio.wait_for(comp.start(), self.config.component_timeout_s)
            except Exception:
                log.exception("component %s failed to start; the daemon runs without it", comp.name)
                continue
            self._started.append(comp)

    async def _stop_active_components(self) -> None:
        """On losing the lock: the standby must not publish, command or poll in the pair's name."""
        active = [c for c in self._started if getattr(c, "active_only", False)]
        per = self.config.stop_timeout_s / max(1, len(active) + 1)
        for comp in reversed(active):
            try:
                await asyncio.wait_for(comp.stop(), per)
            except Exception:
                log.exception("component %s did not stop cleanly", comp.name)
            self._started.remove(comp)

    async def _shutdown(self) -> None:
        if self.scheduler is not None:
            sched, self.scheduler = self.scheduler, None
            await sched.stop()
        pending = {t for t in self._detached if not t.done()}
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.config.stop_timeout_s / 4)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        per = self.config.stop_timeout_s / max(1, len(self._started) + 1)
        for comp in reversed(self._started):
            try:
                await asyncio.wait_for(comp.stop(), per)
            except Exception:
                log.exception("component %s did not stop cleanly", comp.name)
        self._started.clear()
        with contextlib.suppress(Exception):
            await self.leadership.release()
        with contextlib.suppress(Exception):
            self.audit.append("daemon.stop", actor="daemon", node=self.config.node_id)

    async def _watchdog(self, interval: float) -> None:
        while True:
            self.notifier.notify("WATCHDOG=1")
            await asyncio.sleep(interval)  # not moved: systemd's deadline is exact

    def _standby_why(self) -> str:
        """Why this node is not active, in words (which lock another daemon holds)."""
        if isinstance(self.leadership, FileLeadership):
            return f"another daemon holds the active lock {self.leadership.path}"
        if isinstance(self.leadership, PgAdvisoryLeadership):
            return (
                "another daemon holds the PostgreSQL advisory lock "
                f"{self.leadership.key} (or PostgreSQL cannot be reached: see above)"
            )
        return "another daemon holds the active lock"

    def _on_event(self, kind: str, payload: dict[str, Any]) -> None:
        self.store.event(kind, **payload)

    def _leadership(self) -> Leadership:
        if self.db.is_postgres:
            name = f"{self.loaded.profile.site.id}/{self.config.database_schema or 'public'}"
            return PgAdvisoryLeadership(
                pg_conninfo(self.db.url),
                lock_key(name),
                application_name=f"mcu-control-leader/{self.config.node_id}",
            )
        return FileLeadership(self.state_dir / "daemon.lock")
