"""The one retry policy for drivers: only errors whose `retryable` is True, a bounded number of times.

A driver that retries states which retryable kinds it retries (a VISCA "buffer full" is a
`DeviceBusyError`; a timeout is retryable too, but sending a move twice is not harmless), how
often and how long it pauses. A permanent error (`retryable` False) is never retried, whatever
the driver asked for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from devices.errors import DeviceBusyError, McuControlError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` tries in all, `pause_s` apart, of errors that are instances of `on`."""

    attempts: int = 6
    pause_s: float = 0.1
    on: tuple[type[McuControlError], ...] = (DeviceBusyError,)

    def should_retry(self, exc: McuControlError, attempt: int) -> bool:
        """True when try number `attempt` (1-based) failed with `exc` and another is allowed."""
        return attempt < self.attempts and exc.retryable and isinstance(exc, self.on)

    async def run(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        log: logging.Logger | None = None,
        what: str = "request",
    ) -> T:
        """Await `call()` until it succeeds, fails for good, or the attempts are used up."""
        attempt = 1
        while True:
            try:
                return await call()
            except McuControlError as exc:
                if not self.should_retry(exc, attempt):
                    raise
                if log is not None:
                    log.info("%s: %s; retrying in %.1f s", what, exc.kind, self.pause_s)
            await asyncio.sleep(self.pause_s)
            attempt += 1
