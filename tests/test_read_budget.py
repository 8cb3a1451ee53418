"""The shared health-read budget: bursts for small sites, a rate cap and fair turns for large
ones, and turns in rounds on a shared tick so an idle daemon wakes once a tick, not once a read."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from mcu_control.connections import Connections
from mcu_control.state import StateStore
from mcu_control.supervisor import DeviceSupervisor, ReadBudget

TICK = 0.05


def _on_grid(t: float, tick: float = TICK) -> bool:
    return abs(t / tick - round(t / tick)) < 1e-6


async def test_a_burst_goes_at_once_then_turns_come_on_the_tick_at_the_rate() -> None:
    budget = ReadBudget(per_s=100, burst=5, tick_s=TICK)
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    for _ in range(5):
        await budget.turn()
    assert time.monotonic() - t0 < 0.05  # a 9-point site's start-up reads are not delayed
    started = loop.time()
    later = await asyncio.gather(*(budget.turn() for _ in range(15)))
    assert all(_on_grid(t) for t in later)  # rounds on the shared tick
    per_round = Counter(round(t / TICK) for t in later)
    assert max(per_round.values()) <= 100 * TICK + 1  # the rate, a round at a time
    assert max(later) - started >= 15 / 100 * 0.8  # no faster than the rate overall


async def test_turns_asked_for_a_time_go_together_at_the_first_tick_after_it() -> None:
    budget = ReadBudget(per_s=None, tick_s=TICK)
    loop = asyncio.get_running_loop()
    base = budget.grid(loop.time()) + 2 * TICK
    # twenty devices whose next reads fall due at different moments within one tick
    asked = [base + TICK * i / 20 for i in range(1, 20)]
    given = await asyncio.gather(*(budget.turn(at) for at in asked))
    assert len(set(given)) == 1  # one wake-up for all of them
    assert given[0] == pytest.approx(base + TICK)
    assert all(g >= a for g, a in zip(given, asked, strict=True))  # never early


async def test_waiters_take_turns_in_order() -> None:
    budget = ReadBudget(per_s=200, burst=1, tick_s=0.01)
    order: list[int] = []

    async def reader(i: int) -> None:
        await budget.turn()
        order.append(i)

    tasks = []
    for i in range(20):
        tasks.append(asyncio.create_task(reader(i)))
        await asyncio.sleep(0)  # queue them in this order
    await asyncio.gather(*tasks)
    assert order == list(range(20))


class CountingSupervisor(DeviceSupervisor):
    """A supervisor whose health read only counts (the budget is what is under test)."""

    reads: ClassVar[Counter[str]] = Counter()
    times: ClassVar[list[float]] = []

    async def check_once(self) -> bool:
        self.reads[self.device_id] += 1
        self.times.append(asyncio.get_running_loop().time())
        return True


def _site() -> Any:
    # check_once is overridden: only the store is touched (the link state of unknown devices
    # is not published)
    store = StateStore()
    return SimpleNamespace(store=store, connections=Connections(store))


async def test_supervisors_sharing_a_budget_stay_under_it_and_share_it_fairly() -> None:
    CountingSupervisor.reads = Counter()
    budget = ReadBudget(per_s=40, burst=10, tick_s=TICK)
    site = _site()
    sups = [
        CountingSupervisor(site, f"p{i}.cam", read=None, interval_s=0.001, budget=budget)  # type: ignore[arg-type]
        for i in range(25)
    ]
    t0 = time.monotonic()
    for s in sups:
        s.start()
    await asyncio.sleep(1.0)
    await asyncio.gather(*(s.stop() for s in sups))
    elapsed = time.monotonic() - t0
    total = sum(CountingSupervisor.reads.values())
    # without the budget 25 devices at 1 ms would read thousands of times a second
    assert total <= 10 + 40 * elapsed + 1
    assert total >= 25  # every device got its first turn
    counts = [CountingSupervisor.reads[s.device_id] for s in sups]
    assert max(counts) - min(counts) <= 1  # FIFO turns: no device starves another
    assert budget.waiting == 0  # stopped supervisors leave nothing queued


async def test_supervisors_started_apart_read_together_at_their_interval() -> None:
    """Devices that came up at different moments of one tick are read in the same rounds."""
    CountingSupervisor.reads = Counter()
    CountingSupervisor.times = []
    tick = 0.1
    budget = ReadBudget(per_s=None, tick_s=tick)
    loop = asyncio.get_running_loop()
    site = _site()
    sups = [
        CountingSupervisor(site, f"p{i}.codec", read=None, interval_s=4 * tick, budget=budget)  # type: ignore[arg-type]
        for i in range(8)
    ]
    await asyncio.sleep(budget.grid(loop.time()) - loop.time() + 0.002)  # just after a tick
    for s in sups:
        s.start()
        await asyncio.sleep(tick / 30)  # first reads at once, each at its own moment
    await asyncio.sleep(10 * tick)
    await asyncio.gather(*(s.stop() for s in sups))
    later = CountingSupervisor.times[len(sups) :]
    assert len(later) >= 2 * len(sups)  # each read again at least twice
    # each read starts just after a tick (its task runs once the tick gave the turn) ...
    assert all(t - (t // tick) * tick < tick / 4 for t in later)
    # ... and all 8 devices in the same one: one wake-up per round, not one per read
    rounds = Counter(int(t // tick) for t in later)
    assert set(rounds.values()) == {len(sups)}
    assert budget.waiting == 0


def test_a_budget_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="per_s > 0"):
        ReadBudget(per_s=0)
