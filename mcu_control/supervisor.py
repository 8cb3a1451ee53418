"""Per-device supervisors: keep each device's state fresh in the store, whatever it does.

A supervisor connects, then asks the device's health every `interval_s` (that periodic
query is also what detects a half-open link: a link that stopped answering fails the query
by its timeout). On failure the connection object is dropped and a new one is tried with
capped exponential backoff; after every reconnect the full state is read again. A device
that is down at start only delays its own supervisor.

All supervisors of a site share one `ReadBudget`: health reads cost ~1–2 ms of CPU each
(an ONVIF camera's are SOAP), so 4500 devices read every 15 s would take a third of a core.
The budget caps reads per second; a small site never notices it, a large one reads each
device less often instead of saturating the loop the drills and bring-ups need.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from mcu_control.site import Site
from mcu_control.state import PointPhase
from mcu_control.status import Reader, apply_calls, device_readers, read_calls, read_device

log = logging.getLogger("mcu_control.supervisor")


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.2  # ± fraction, so nine devices that failed together do not retry together

    def delays(self) -> Callable[[int], float]:
        def delay(attempt: int) -> float:
            base = min(self.max_s, self.initial_s * self.factor**attempt)
            return base * (1 + random.uniform(-self.jitter, self.jitter))

        return delay


class ReadBudget:
    """A token bucket shared by a site's supervisors: at most `per_s` reads a second.

    `burst` reads may go at once (a 9-point site's ~40 devices are all read at start); then
    reads queue in FIFO order, so no device is starved.
    """

    def __init__(self, per_s: float, burst: int = 60) -> None:
        if per_s <= 0 or burst < 1:
            raise ValueError("a read budget needs per_s > 0 and burst >= 1")
        self.per_s = per_s
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_s)
            self._stamp = now
            if self._tokens < 1:
                wait = (1 - self._tokens) / self.per_s
                await asyncio.sleep(wait)
                self._stamp = time.monotonic()
                self._tokens = 1.0
            self._tokens -= 1


class LinkState(StrEnum):
    """Where a supervisor is with its device's connection; published as the device's `link`."""

    CONNECTING = "connecting"  # a read is under way and the device has not answered yet
    READY = "ready"  # the last read answered
    BACKOFF = "backoff"  # the last read failed; waiting before the next try
    STOPPED = "stopped"  # not supervised


#: run after a (re)connection: the device answered after not having answered (e.g. renew
#: Tesira subscriptions); a failing hook is logged, it does not fail the device
OnConnected = Callable[[str], Awaitable[None]]


class DeviceSupervisor:
    """Keeps one device's record in the store current; never raises out of its task.

    It owns the device's connection lifecycle: `link` (LinkState) is published to the store
    at every change, and `on_connected` hooks run each time the device answers again.
    """

    def __init__(
        self,
        site: Site,
        device_id: str,
        read: Reader,
        *,
        interval_s: float = 15.0,
        timeout_s: float = 5.0,
        backoff: Backoff = Backoff(),
        budget: ReadBudget | None = None,
        on_connected: list[OnConnected] | None = None,
    ) -> None:
        self.site = site
        self.device_id = device_id
        self.read = read
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.backoff = backoff
        self.budget = budget
        self.on_connected = list(on_connected or [])
        self.failures = 0
        self.reconnects = 0
        self.link = LinkState.STOPPED
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"supervise:{self.device_id}"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._set_link(LinkState.STOPPED)

    async def check_once(self) -> bool:
        """One health read into the store; True if the device answered."""
        return await read_device(self.site, self.device_id, self.read, self.timeout_s)

    async def _run(self) -> None:
        delay = self.backoff.delays()
        while True:
            if self.budget is not None:
                await self.budget.acquire()
            if self.link is not LinkState.READY:
                self._set_link(LinkState.CONNECTING)
            try:
                ok = await self.check_once()
            except Exception:  # a bug must not kill supervision of this device
                log.exception("%s: supervisor read failed unexpectedly", self.device_id)
                ok = False
            if ok:
                if self.failures:
                    self.reconnects += 1
                    log.info("%s: back after %d failed reads", self.device_id, self.failures)
                    self.site.store.event("device-recovered", device=self.device_id)
                self.failures = 0
                if self.link is not LinkState.READY:
                    self._set_link(LinkState.READY)
                    await self._connected()
                await asyncio.sleep(self.interval_s)
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
                wait = delay(self.failures)
                self.failures += 1
                self._set_link(LinkState.BACKOFF)
                await asyncio.sleep(wait)

    def _set_link(self, link: LinkState) -> None:
        self.link = link
        if self.device_id in self.site.store.devices:
            self.site.store.update_device(self.device_id, link=link.value)

    async def _connected(self) -> None:
        for hook in self.on_connected:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await hook(self.device_id)
            except Exception:
                log.warning("%s: on_connected hook failed", self.device_id, exc_info=True)


def supervisors(
    site: Site,
    *,
    interval_s: float = 15.0,
    timeout_s: float = 5.0,
    reads_per_s: float | None = None,
) -> list[DeviceSupervisor]:
    """One supervisor per device of the site, sharing one read budget (None: no cap)."""
    budget = ReadBudget(reads_per_s) if reads_per_s else None
    return [
        DeviceSupervisor(site, dev, read, interval_s=interval_s, timeout_s=timeout_s, budget=budget)
        for dev, read in device_readers(site).items()
    ]


class CallSupervisor:
    """Polls the session conference and keeps every point's call state and phase current."""

    def __init__(self, site: Site, *, interval_s: float = 2.0, timeout_s: float = 5.0) -> None:
        self.site = site
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="supervise:calls")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def check_once(self) -> None:
        apply_calls(self.site, *await read_calls(self.site, self.timeout_s))

    async def _run(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:
                log.exception("call supervisor failed unexpectedly")
            await asyncio.sleep(self.interval_s)


def phase_counts(site: Site) -> dict[str, int]:
    """How many points are in each phase (for logs and the demo's live view)."""
    counts = {p.value: 0 for p in PointPhase}
    for state in site.store.points.values():
        counts[state.phase.value] += 1
    return counts
