"""What the daemon runs: the orchestrator as the scheduler's actions, and the supervisors.

Both share one `SiteHolder`, so a SIGHUP reload swaps the profile for the supervisors and
for the next scheduled job at once, and the old site's connections are closed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from devices.errors import McuControlError
from mcu_control.audit import AuditLog, audit_gap
from mcu_control.orchestrator import SCHEDULED_LOCK_WAIT_S, Orchestrator
from mcu_control.results import DrillReport
from mcu_control.roster import announced_session, occurrence_points
from mcu_control.session_record import SessionRecords
from mcu_control.site import Site
from mcu_control.state import SessionPhase, StateStore
from mcu_control.supervisor import CallSupervisor, DeviceSupervisor, supervisors
from scheduler.actions import JobInterrupted

if TYPE_CHECKING:
    from profiles.loader import LoadedProfile
    from scheduler.calendar import Occurrence

log = logging.getLogger("mcu_control.runtime")


class SiteHolder:
    """The current Site of the daemon; replaced on reload."""

    def __init__(
        self,
        loaded: LoadedProfile,
        store: StateStore,
        audit: AuditLog,
        *,
        state_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.state_dir = state_dir
        self.site = Site(loaded, store=store, audit=audit, actor="daemon")
        self.lock = asyncio.Lock()  # one orchestration at a time: a drill never races a bring-up

    def orchestrator(self, *, lock_wait_s: float = 0.0) -> Orchestrator:
        """The application service over the current site (MQTT commands and scheduled jobs)."""
        from mcu_control.paths import state_dir

        return Orchestrator(
            self.site, state_dir=self.state_dir or state_dir(), lock_wait_s=lock_wait_s
        )

    async def replace(self, loaded: LoadedProfile) -> None:
        old = self.site
        known = set(self.store.points)
        self.site = Site(loaded, store=self.store, audit=self.audit, actor="daemon")
        if {p.id for p in loaded.profile.points} - known:
            self.store.seed(loaded.profile)
        await old.close()


class OrchestratorActions:
    """The scheduler's SessionActions backed by the real drill, bring-up and teardown."""

    def __init__(self, holder: SiteHolder, state_dir: Path) -> None:
        self.holder = holder
        if holder.state_dir is None:
            holder.state_dir = state_dir
        self._drill: asyncio.Task[DrillReport] | None = None  # the drill running now
        self._stop_reason = ""  # why this object cancelled it (empty: it did not)
        # the session record (biên bản) and the recording proof: see session_record.py
        self.records = SessionRecords(lambda: holder.site, state_dir, audit=holder.audit)

    async def drill(self, occurrence: Occurrence, *, label: str) -> None:
        self._record("drill", occurrence, label)
        async with self.holder.lock:
            self._announce(occurrence)
            self._stop_reason = ""
            points = list(occurrence_points(self.holder.site.profile, occurrence))
            orch = self.holder.orchestrator(lock_wait_s=SCHEDULED_LOCK_WAIT_S)
            self._drill = asyncio.create_task(
                orch.drill(points=points, label=label, national=occurrence.national)
            )
            try:
                report = await self._drill
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if self._stop_reason and not (me is not None and me.cancelling()):
                    raise JobInterrupted(f"stopped: {self._stop_reason}") from None
                raise
            finally:
                self._drill = None
            log.info("drill %s for %s: %s", label, occurrence.key, report.verdict.value.upper())

    async def bringup(self, occurrence: Occurrence) -> None:
        self._record("bringup", occurrence, "T-15m")
        drill = self._drill
        if drill is not None and not drill.done():
            # the session comes first; the bring-up checks every link anyway
            log.warning("the bring-up is due: stopping the drill still running")
            self._stop_reason = "the bring-up was due (it checks every link itself)"
            drill.cancel()
        async with self.holder.lock:
            self._announce(occurrence)
            await self.records.opening(
                occurrence.key, occurrence.title, occurrence.start, occurrence.end
            )
            points = list(occurrence_points(self.holder.site.profile, occurrence))
            orch = self.holder.orchestrator(lock_wait_s=SCHEDULED_LOCK_WAIT_S)
            report = await orch.bringup(points=points, national=occurrence.national)
            await self.records.brought_up(report)
            log.info(
                "bring-up for %s: %d/%d connected, recording %s",
                occurrence.key,
                report.connected,
                len(report.points),
                "on" if report.recording else "OFF",
            )

    async def teardown(self, occurrence: Occurrence) -> None:
        self._record("teardown", occurrence, "end")
        async with self.holder.lock:
            orch = self.holder.orchestrator(lock_wait_s=SCHEDULED_LOCK_WAIT_S)
            await orch.teardown()
            await self.records.closed()

    def _record(self, kind: str, occ: Occurrence, label: str) -> None:
        """The scheduler's own record of what it started (the orchestrator audits the details)."""
        try:
            self.holder.audit.append(
                f"session.{kind}", actor="scheduler", target=occ.key, label=label, title=occ.title
            )
        except (OSError, McuControlError) as exc:  # the session goes on; the gap is alerted
            audit_gap(self.holder.store, self.holder.audit.path, f"session.{kind}", occ.key, exc)

    def _announce(self, occ: Occurrence) -> None:
        """The session the next jobs belong to, for panels' countdown (links as planned)."""
        s = self.holder.store.session
        phase = s.phase if s.session_id == occ.key else SessionPhase.IDLE
        self.holder.store.set_session(
            announced_session(self.holder.site.loaded, occ, phase, recording=s.recording)
        )


class SupervisorComponent:
    """Per-device supervisors plus the call supervisor, as one daemon component."""

    name = "supervisors"
    active_only = True  # a standby does not poll the devices the active daemon already polls

    def __init__(
        self,
        holder: SiteHolder,
        *,
        interval_s: float = 15.0,
        timeout_s: float = 5.0,
        call_interval_s: float = 3.0,
        reads_per_s: float | None = None,
    ) -> None:
        self.holder = holder
        self.reads_per_s = reads_per_s
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.call_interval_s = call_interval_s
        self._devices: list[DeviceSupervisor] = []
        self._calls: CallSupervisor | None = None

    async def start(self) -> None:
        site = self.holder.site
        self._devices = supervisors(
            site,
            interval_s=self.interval_s,
            timeout_s=self.timeout_s,
            reads_per_s=self.reads_per_s,
        )
        for s in self._devices:
            s.start()
        self._calls = CallSupervisor(
            site,
            interval_s=self.call_interval_s,
            timeout_s=self.timeout_s,
            idle_interval_s=self.interval_s,  # between sessions: as often as the health reads
        )
        self._calls.start()

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self._devices))
        if self._calls is not None:
            await self._calls.stop()
        self._devices, self._calls = [], None
        await self.holder.site.close()

    async def reload(self, loaded: LoadedProfile) -> None:
        await self.stop()
        await self.holder.replace(loaded)
        await self.start()
