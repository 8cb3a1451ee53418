"""Per-device supervisors: keep each device's state fresh in the store, whatever it does.

A supervisor asks the device's health every `interval_s` (that periodic query is also what
detects a half-open link: a link that stopped answering fails the query by its timeout).
The connection itself belongs to the site's `Connections` (mcu_control/connections.py): a
failed read is reported to it, it closes the link and backs off, and the supervisor's next
read — after the owner's backoff — reconnects through it; after every reconnect the full
state is read again and the `on_connected` hooks run. A device that is down at start only
delays its own supervisor.

All supervisors of a site share one `ReadBudget`: health reads cost ~1–2 ms of CPU each
(an ONVIF camera's are SOAP), so 4500 devices read every 15 s would take a third of a core.
The budget caps reads per second; a small site never notices it, a large one reads each
device less often instead of saturating the loop the drills and bring-ups need. It also
gives the turns in rounds on a 1 s tick, so an idle daemon wakes once a second for its reads
rather than once per read.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Awaitable, Callable

from devices.interfaces import Device
from mcu_control.connections import Backoff, LinkState
from mcu_control.site import Site, StepEvent
from mcu_control.state import PointPhase, SessionPhase
from mcu_control.status import Reader, apply_calls, device_readers, read_calls, read_device
from mcu_control.ticks import GRID_S, on_grid, until_tick

__all__ = [
    "Backoff",
    "CallSupervisor",
    "DeviceSupervisor",
    "LinkState",
    "OnConnected",
    "ReadBudget",
    "phase_counts",
    "supervisors",
]

log = logging.getLogger("mcu_control.supervisor")


class ReadBudget:
    """The turns of a site's health reads: in rounds on a shared tick, at most `per_s` a second.

    A supervisor asks for its turn at a time (`turn(at)`); turns are given on the tick grid
    (multiples of `tick_s` on the loop's clock), so the reads that fall due within one tick run
    together and the idle daemon wakes once a tick instead of once a read — on an idle machine
    a read right after a wake-up costs several times one in a batch (docs/performance.md).
    With `per_s`, a token bucket caps them: `burst` turns may go at once (a 9-point site's ~40
    devices are all read at start), then each tick gives what the rate allows, in the order
    the turns fell due, so no device is starved. A first turn (`at` None) goes at once when
    the bucket allows: start-up is not delayed to the grid.
    """

    def __init__(self, per_s: float | None = None, burst: int = 60, tick_s: float = GRID_S) -> None:
        if (per_s is not None and per_s <= 0) or burst < 1 or tick_s <= 0:
            raise ValueError("a read budget needs per_s > 0 (or None), burst >= 1, tick_s > 0")
        self.per_s = per_s
        self.burst = burst
        self.tick_s = tick_s
        self._tokens = float(burst)
        self._stamp: float | None = None  # loop time of the last refill
        self._waiting: list[tuple[float, int, asyncio.Future[float]]] = []  # a heap
        self._seq = 0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """Supervisors waiting for a turn."""
        return sum(1 for _, _, f in self._waiting if not f.done())

    def grid(self, t: float) -> float:
        """The first tick at or after loop time `t`."""
        return on_grid(t, self.tick_s)

    async def turn(self, at: float | None = None) -> float:
        """Wait for a turn at loop time `at` or the first tick after it; the turn's time."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if at is None and not self._waiting and self._take(now):
            return now
        fut: asyncio.Future[float] = loop.create_future()
        heapq.heappush(self._waiting, (now if at is None else at, self._seq, fut))
        self._seq += 1
        self._arm(loop)
        try:
            return await fut
        finally:
            if fut.cancelled() and all(f.done() for _, _, f in self._waiting):
                self._waiting.clear()  # every supervisor stopped: no timer outlives them
                self._arm(loop)

    def _take(self, now: float) -> bool:
        if self.per_s is None:
            return True
        if self._stamp is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_s)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Set the one timer to the first tick at which the first waiter can go."""
        while self._waiting and self._waiting[0][2].done():
            heapq.heappop(self._waiting)
        when: float | None = None
        if self._waiting:
            due = self._waiting[0][0]
            if self.per_s is not None and self._tokens < 1 and self._stamp is not None:
                due = max(due, self._stamp + (1 - self._tokens) / self.per_s)
            when = self.grid(max(due, loop.time()))
        if self._timer is not None and (when is None or self._timer.when() != when):
            self._timer.cancel()
            self._timer = None
        if when is not None and self._timer is None:
            self._timer = loop.call_at(when, self._tick, loop, when)

    def _tick(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._timer = None
        now = max(loop.time(), when)  # asyncio may run a timer up to its clock resolution early
        while self._waiting and self._waiting[0][0] <= now + 1e-6:
            fut = self._waiting[0][2]
            if not fut.done():
                if not self._take(now):
                    break
                fut.set_result(when)
            heapq.heappop(self._waiting)
        self._arm(loop)


#: run after a (re)connection: the device answered after not having answered (e.g. renew
#: Tesira subscriptions); a failing hook is logged, it does not fail the device
OnConnected = Callable[[str], Awaitable[None]]


class DeviceSupervisor:
    """Keeps one device's record in the store current; never raises out of its task.

    The site's `Connections` owns the connection: the supervisor registers its backoff
    policy and `on_connected` hooks there; `link` (LinkState) is the owner's state, which it
    publishes to the store at every change.
    """

    def __init__(
        self,
        site: Site,
        device_id: str,
        read: Reader,
        *,
        interval_s: float = 15.0,
        timeout_s: float = 5.0,
        backoff: Backoff | None = None,
        budget: ReadBudget | None = None,
        on_connected: list[OnConnected] | None = None,
    ) -> None:
        self.site = site
        self.device_id = device_id
        self.read = read
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff()
        self.budget = budget
        self.on_connected = list(on_connected or [])
        self.failures = 0
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None

        async def hook(device_id: str, _device: Device) -> None:
            for h in self.on_connected:
                try:
                    await h(device_id)
                except Exception:
                    log.warning("%s: on_connected hook failed", device_id, exc_info=True)

        self._hook = hook

    @property
    def link(self) -> LinkState:
        return self.site.connections.state(self.device_id)

    def start(self) -> None:
        conns = self.site.connections
        conns.supervise(self.device_id, self.backoff)
        conns.add_hook(self.device_id, self._hook)
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"supervise:{self.device_id}"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.site.connections.remove_hook(self.device_id, self._hook)
        await self.site.connections.stop(self.device_id)

    async def check_once(self) -> bool:
        """One health read into the store; True if the device answered."""
        return await read_device(self.site, self.device_id, self.read, self.timeout_s)

    async def _run(self) -> None:
        conns = self.site.connections
        at: float | None = None  # the first read goes at once
        while True:
            turn = await self._turn(at)
            try:
                ok = await self.check_once()
            except Exception:  # a bug must not kill supervision of this device
                log.exception("%s: supervisor read failed unexpectedly", self.device_id)
                await conns.failed(self.device_id)
                ok = False
            if ok:
                if self.failures:
                    self.reconnects += 1
                    log.info("%s: back after %d failed reads", self.device_id, self.failures)
                    self.site.store.event("device-recovered", device=self.device_id)
                self.failures = 0
                at = turn + self.interval_s  # reads start interval_s apart, on the budget's grid
            else:
                if self.failures == 0:
                    log.warning(
                        "%s: down: %s",
                        self.device_id,
                        self.site.store.devices[self.device_id].reason,
                    )
                    self.site.store.event(
                        "device-down",
                        device=self.device_id,
                        reason=self.site.store.devices[self.device_id].reason,
                    )
                self.failures += 1
                # the owner's backoff (an answer the device refused keeps the link: the
                # supervisor then waits its normal interval)
                wait = conns.retry_in(self.device_id)
                if conns.state(self.device_id) is not LinkState.BACKOFF:
                    wait = self.interval_s
                at = asyncio.get_running_loop().time() + wait

    async def _turn(self, at: float | None) -> float:
        """The budget's turn at `at` (None: now); without a budget, a plain sleep until then."""
        if self.budget is not None:
            return await self.budget.turn(at)
        loop = asyncio.get_running_loop()
        if at is not None:
            await asyncio.sleep(max(0.0, at - loop.time()))
        return loop.time()


def supervisors(
    site: Site,
    *,
    interval_s: float = 15.0,
    timeout_s: float = 5.0,
    reads_per_s: float | None = None,
) -> list[DeviceSupervisor]:
    """One supervisor per device of the site, sharing one read budget (`reads_per_s` None: no
    cap, the reads still go in rounds on its tick)."""
    budget = ReadBudget(reads_per_s or None)
    return [
        DeviceSupervisor(site, dev, read, interval_s=interval_s, timeout_s=timeout_s, budget=budget)
        for dev, read in device_readers(site).items()
    ]


class CallSupervisor:
    """Polls the session conference and keeps every point's call state and phase current.

    Every `interval_s` while a session is on (the conference has calls, or the session phase
    is not idle); every `idle_interval_s` otherwise — nothing changes between sessions, and
    the MCU's answer is the same empty list. A step of this daemon's own drill, bring-up or
    teardown (`Site.emit`) wakes it at once; a bring-up started from another process is seen
    within `idle_interval_s`.
    """

    def __init__(
        self,
        site: Site,
        *,
        interval_s: float = 2.0,
        timeout_s: float = 5.0,
        idle_interval_s: float | None = None,
    ) -> None:
        self.site = site
        self.interval_s = interval_s
        self.idle_interval_s = max(interval_s, idle_interval_s or interval_s)
        self.timeout_s = timeout_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._busy = True  # until the first read says otherwise

    def start(self) -> None:
        self.site.listeners.append(self._on_step)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="supervise:calls")

    async def stop(self) -> None:
        if self._on_step in self.site.listeners:
            self.site.listeners.remove(self._on_step)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def check_once(self) -> None:
        calls, why = await read_calls(self.site, self.timeout_s)
        apply_calls(self.site, calls, why)
        idle = self.site.store.session.phase is SessionPhase.IDLE
        self._busy = calls is None or bool(calls) or not idle

    def _on_step(self, _event: StepEvent) -> None:
        if not self._busy:  # in session it reads every interval_s anyway: no extra reads
            self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:
                log.exception("call supervisor failed unexpectedly")
            self._wake.clear()
            wait = self.interval_s if self._busy else self.idle_interval_s
            with contextlib.suppress(TimeoutError):  # on the daemon's grid (mcu_control.ticks)
                await asyncio.wait_for(self._wake.wait(), until_tick(wait))


def phase_counts(site: Site) -> dict[str, int]:
    """How many points are in each phase (for logs and the demo's live view)."""
    counts = {p.value: 0 for p in PointPhase}
    for state in site.store.points.values():
        counts[state.phase.value] += 1
    return counts
