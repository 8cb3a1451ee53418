"""One grid for the daemon's periodic wake-ups: timers due at the same instant run in one pass.

An idle daemon's CPU is mostly its wake-ups (on an idle machine the work right after one costs
several times the same work in a batch: docs/performance.md), so every periodic timer — the
health reads' rounds (`ReadBudget`), the call supervisor, the daemon's leader poll, the MQTT
heartbeat — waits until a whole multiple of `GRID_S` on the loop's clock: those falling due
within the same second wake the loop once. A wait shorter than the grid is not moved (a test's
fast loop; the systemd watchdog keeps its exact interval).
"""

from __future__ import annotations

import asyncio
import math

#: the grid, in seconds of the event loop's clock
GRID_S = 1.0


def on_grid(t: float, grid_s: float = GRID_S) -> float:
    """The first grid instant at or after loop time `t`."""
    return math.ceil(t / grid_s - 1e-9) * grid_s


def until_tick(after_s: float) -> float:
    """Seconds from now to the first grid instant at least `after_s` from now (`after_s` itself
    when it is shorter than the grid)."""
    if after_s < GRID_S:
        return after_s
    now = asyncio.get_running_loop().time()
    return on_grid(now + after_s) - now


async def sleep_to_tick(after_s: float) -> None:
    """Sleep at least `after_s`, until a grid instant."""
    await asyncio.sleep(until_tick(after_s))
