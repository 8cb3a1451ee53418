"""One poller per conference that wakes every waiter whose participant reaches a state.

Waiting for nine (or a thousand) calls must not mean nine (or a thousand) pollers hammering
the MCU: one `participants()` call per interval serves every waiter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from devices.errors import DeviceTimeoutError, McuControlError
from devices.interfaces import CallState, Mcu, Participant

log = logging.getLogger("mcu_control.watcher")

SETTLED = frozenset({CallState.CONNECTED, CallState.DISCONNECTED})
MAX_POLL_FAILURES = 5


@dataclass
class _Waiter:
    name: str
    predicate: Callable[[Participant], bool]
    future: asyncio.Future[Participant]


class ParticipantWatcher:
    """Poll `mcu.participants(conference)` while anyone waits; close() when done."""

    def __init__(self, mcu: Mcu, conference: str, interval_s: float = 0.5) -> None:
        self.mcu = mcu
        self.conference = conference
        self.interval_s = interval_s
        self.latest: dict[str, Participant] = {}
        self._waiters: list[_Waiter] = []
        self._task: asyncio.Task[None] | None = None

    async def wait_settled(self, name: str, timeout_s: float) -> Participant:
        """The participant once connected or disconnected; DeviceTimeoutError after `timeout_s`."""
        return await self.wait_for(name, lambda p: p.call_state in SETTLED, timeout_s)

    async def wait_for(
        self, name: str, predicate: Callable[[Participant], bool], timeout_s: float
    ) -> Participant:
        loop = asyncio.get_running_loop()
        waiter = _Waiter(name, predicate, loop.create_future())
        self._waiters.append(waiter)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name=f"watch:{self.conference}")
        try:
            async with asyncio.timeout(timeout_s):
                return await waiter.future
        except TimeoutError:
            last = self.latest.get(name)
            state = last.call_state.value if last else "not listed"
            raise DeviceTimeoutError(
                f"participant {name} still {state} after {timeout_s:.0f} s",
                device=self.mcu.name,
                timeout_s=timeout_s,
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def close(self) -> None:
        """Stop polling and wait for the poller to end."""
        for w in self._waiters:
            if not w.future.done():
                w.future.cancel()
        self._waiters.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while self._waiters:
            try:
                participants = await self.mcu.participants(self.conference)
            except McuControlError as exc:
                failures += 1
                log.warning("polling %s failed (%d): %s", self.conference, failures, exc)
                if failures >= MAX_POLL_FAILURES:
                    for w in list(self._waiters):
                        if not w.future.done():
                            w.future.set_exception(exc)
                    return
            else:
                failures = 0
                for p in participants:
                    self.latest[p.name] = p
                for w in list(self._waiters):
                    seen = self.latest.get(w.name)
                    if seen is not None and not w.future.done() and w.predicate(seen):
                        w.future.set_result(seen)
            if self._waiters:
                await asyncio.sleep(self.interval_s)
