"""The daemon's periodic timers share one grid, so an idle daemon wakes once for all of them."""

from __future__ import annotations

import asyncio

import pytest

from mcu_control import ticks


def test_on_grid_rounds_up_to_the_next_whole_tick() -> None:
    assert ticks.on_grid(10.0) == 10.0
    assert ticks.on_grid(10.0001) == 11.0
    assert ticks.on_grid(10.3, 0.25) == pytest.approx(10.5)


async def test_timers_of_different_periods_wake_at_the_same_instants() -> None:
    loop = asyncio.get_running_loop()
    # a 2 s leader poll started now and a 15 s call-supervisor wait started 0.4 s later
    # both end on the grid, so when they coincide they run in one pass of the loop
    first = loop.time() + ticks.until_tick(2.0)
    await asyncio.sleep(0)
    second = loop.time() + ticks.until_tick(3.0)
    for when in (first, second):
        assert when == pytest.approx(round(when / ticks.GRID_S) * ticks.GRID_S)
    assert first - loop.time() >= 2.0 - 1e-6  # never shorter than asked


async def test_a_wait_shorter_than_the_grid_is_not_moved() -> None:
    assert ticks.until_tick(0.05) == 0.05  # a test's fast loop keeps its pace
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await ticks.sleep_to_tick(0.01)
    assert loop.time() - t0 < 0.5
