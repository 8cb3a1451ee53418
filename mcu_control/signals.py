"""Stop long-running foreground commands (`sim up`, `demo`) cleanly on SIGTERM, SIGINT, SIGHUP.

The body runs as a task; the first signal cancels it, so its `finally` blocks (stop the
simulators and their child processes, remove temp folders, tear the session down) run to
the end. Later signals are ignored while that clean-up runs: a second Ctrl-C must not leave
snmpsim processes behind.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def until_signal(body: Callable[[], Awaitable[T]]) -> tuple[T | None, int | None]:
    """Run `body()`; return (its result, None), or (None or its result, the signal) if stopped."""
    loop = asyncio.get_running_loop()
    task: asyncio.Future[T] = asyncio.ensure_future(body())
    got: list[int] = []

    def on_signal(sig: int) -> None:
        if not got:
            got.append(sig)
            task.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        try:
            result = await task
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if got and not (me is not None and me.cancelling()):
                return None, got[0]
            raise
        return result, (got[0] if got else None)
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
