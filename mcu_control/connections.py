"""The one owner of device connections: build, connect, state, backoff, on-connected hooks.

Every device of a site has one `Link` here, holding the driver instance, an explicit
`LinkState`, the failure count and the time of the next attempt. Whoever needs a device
*borrows* it (`Connections.borrow`, through `Site.mcu()/camera()/mixer()/codec()`); nobody
else builds, closes or drops a driver. A borrower that sees a failure *reports* it
(`Connections.failed`): an error that the device answered (not found, bad parameter, busy…)
leaves the link as it is; a link-level failure (timeout, transport, garbage, or a health
read that says down) makes the owner close the instance and put the link in `backoff`.
The next borrow (the supervisor's next read after its backoff, or a bring-up step that
needs the device now) reconnects it — one attempt at a time under the device's lock, so
there is never a second connection to the same device. After every (re)connection the
device's `on_connected` hooks run (e.g. take the Tesira subscriptions again).

In the daemon, the supervisors and the orchestrator share one `Site` (runtime.SiteHolder)
and therefore one `Connections`: a bring-up uses the very connections the supervisors keep.
A one-shot CLI command has its own short-lived `Site` whose `Connections` lives as long as
the command; that is intended (no daemon to borrow from).

Memory that must outlive a driver instance (SNMP last uptime…) is in `devices/memory.py`,
not here: a Link forgets its instance on every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from devices.errors import (
    AuthenticationError,
    DeviceError,
    McuControlError,
)
from devices.interfaces import ConnectionState, Device
from mcu_control.state import StateStore

log = logging.getLogger("mcu_control.connections")

D = TypeVar("D", bound=Device)

CLOSE_TIMEOUT_S = 3.0


class LinkState(StrEnum):
    """Where the owner is with a device's connection; published as the device's `link`."""

    CONNECTING = "connecting"  # an attempt is under way
    READY = "ready"  # connected, and the last use answered
    BACKOFF = "backoff"  # the last attempt or use failed; waiting before the next try
    STOPPED = "stopped"  # not supervised (or closed)


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


#: run after each (re)connection with the device id and the live driver (use that driver: a
#: hook that borrowed the device would wait for its own lock); a failing hook is logged, it
#: does not fail the connection
Hook = Callable[[str, Device], Awaitable[None]]


@dataclass(eq=False)
class Link:
    """One device's connection as the owner sees it."""

    key: str
    device: Device | None = None
    state: LinkState = LinkState.STOPPED
    failures: int = 0
    retry_at: float = 0.0  # monotonic time of the next attempt the owner would make
    connects: int = 0  # successful connections so far (reconnects = connects - 1)
    builds: int = 0  # driver instances built so far
    supervised: bool = False  # a supervisor watches it: its state is published as `link`
    backoff: Backoff = field(default_factory=Backoff)
    hooks: list[Hook] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def answered(exc: BaseException) -> bool:
    """True if `exc` is the device's answer (the link works): no reconnect helps."""
    return isinstance(exc, DeviceError) and not isinstance(exc, AuthenticationError)


class Connections:
    """Per-device links of one site; `close()` releases them all."""

    def __init__(self, store: StateStore | None = None, *, hook_timeout_s: float = 5.0) -> None:
        self.store = store
        self.hook_timeout_s = hook_timeout_s
        self._links: dict[str, Link] = {}

    def link(self, key: str) -> Link:
        lnk = self._links.get(key)
        if lnk is None:
            lnk = self._links[key] = Link(key)
        return lnk

    def state(self, key: str) -> LinkState:
        return self.link(key).state

    def supervise(self, key: str, backoff: Backoff | None = None) -> None:
        """A supervisor watches `key`: its state is published, its policy is `backoff`."""
        lnk = self.link(key)
        lnk.supervised = True
        if backoff is not None:
            lnk.backoff = backoff
        if lnk.device is not None and lnk.device.state is ConnectionState.CONNECTED:
            self._set(lnk, LinkState.READY)

    def add_hook(self, key: str, hook: Hook) -> None:
        self.link(key).hooks.append(hook)

    def remove_hook(self, key: str, hook: Hook) -> None:
        with contextlib.suppress(ValueError):
            self.link(key).hooks.remove(hook)

    def retry_in(self, key: str) -> float:
        """Seconds until the owner's next attempt at `key` (0: now)."""
        return max(0.0, self.link(key).retry_at - time.monotonic())

    async def borrow(self, key: str, build: Callable[[], D]) -> D:
        """The live device `key`, connecting it (once, under its lock) if it is not."""
        lnk = self.link(key)
        async with lnk.lock:
            dev = lnk.device
            if dev is not None and dev.state is ConnectionState.CONNECTED:
                return dev  # type: ignore[return-value]  # built by this key's `build`
            if dev is None or dev.state in (ConnectionState.CLOSED, ConnectionState.FAILED):
                if dev is not None:
                    await _close_quietly(dev)
                dev = lnk.device = build()
                lnk.builds += 1
            self._set(lnk, LinkState.CONNECTING)
            try:
                await dev.connect()
            except BaseException as exc:
                lnk.device = None
                await _close_quietly(dev)
                self._back_off(lnk, exc)
                raise
            lnk.connects += 1
            await self._run_hooks(lnk, dev)  # before `ready`: e.g. subscriptions are taken
            self._set(lnk, LinkState.READY)
            return dev  # type: ignore[return-value]

    async def ok(self, key: str) -> None:
        """A use of `key` answered: the link is ready (after a backoff, too)."""
        lnk = self.link(key)
        lnk.failures = 0
        lnk.retry_at = 0.0
        if lnk.device is not None and lnk.state is not LinkState.READY:
            self._set(lnk, LinkState.READY)

    async def failed(self, key: str, exc: BaseException | None = None) -> None:
        """A borrower saw `key` fail (`exc` None: a health read said down).

        An answer of the device (`answered`) changes nothing. Anything else: the owner
        closes the instance (a link that timed out may hold a half-open socket) and backs
        off; the next borrow reconnects.
        """
        if exc is not None and answered(exc):
            return
        lnk = self.link(key)
        async with lnk.lock:
            dev, lnk.device = lnk.device, None
            if dev is not None:
                await _close_quietly(dev)
            self._back_off(lnk, exc)

    async def stop(self, key: str) -> None:
        """Supervision of `key` ended: close its connection; the link is `stopped`."""
        lnk = self.link(key)
        async with lnk.lock:
            dev, lnk.device = lnk.device, None
            if dev is not None:
                await _close_quietly(dev)
            self._set(lnk, LinkState.STOPPED)
            lnk.supervised = False

    async def close(self) -> None:
        links = list(self._links.values())
        devices = [lnk.device for lnk in links if lnk.device is not None]
        for lnk in links:
            lnk.device = None
        await asyncio.gather(*(_close_quietly(d) for d in devices))
        for lnk in links:
            self._set(lnk, LinkState.STOPPED)

    # ------------------------------------------------------------------ helpers

    def _back_off(self, lnk: Link, exc: BaseException | None) -> None:
        delay = lnk.backoff.delays()(lnk.failures)
        lnk.failures += 1
        lnk.retry_at = time.monotonic() + delay
        if isinstance(exc, asyncio.CancelledError):
            log.debug("%s: connection attempt cancelled", lnk.key)
        self._set(lnk, LinkState.BACKOFF)

    async def _run_hooks(self, lnk: Link, dev: Device) -> None:
        for hook in list(lnk.hooks):
            try:
                async with asyncio.timeout(self.hook_timeout_s):
                    await hook(lnk.key, dev)
            except (McuControlError, TimeoutError, OSError, ValueError) as exc:
                log.warning("%s: on_connected hook failed: %s", lnk.key, exc)
            except Exception:
                log.exception("%s: on_connected hook failed unexpectedly", lnk.key)

    def _set(self, lnk: Link, state: LinkState) -> None:
        if lnk.state is state:
            return
        lnk.state = state
        if lnk.supervised and self.store is not None and lnk.key in self.store.devices:
            self.store.update_device(lnk.key, link=state.value)


async def _close_quietly(dev: Device) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await dev.close()
