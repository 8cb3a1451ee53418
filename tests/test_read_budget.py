"""The shared health-read budget: bursts for small sites, a rate cap and fair turns for large ones."""

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


async def test_a_burst_goes_at_once_then_reads_are_paced() -> None:
    budget = ReadBudget(per_s=50, burst=5)
    t0 = time.monotonic()
    for _ in range(5):
        await budget.acquire()
    burst_s = time.monotonic() - t0
    for _ in range(10):
        await budget.acquire()
    paced_s = time.monotonic() - t0 - burst_s
    assert burst_s < 0.05  # a 9-point site's start-up reads are not delayed
    assert paced_s >= 10 / 50 * 0.9  # then no faster than the rate (sleep never ends early)


async def test_waiters_take_turns_in_order() -> None:
    budget = ReadBudget(per_s=200, burst=1)
    order: list[int] = []

    async def reader(i: int) -> None:
        await budget.acquire()
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

    async def check_once(self) -> bool:
        self.reads[self.device_id] += 1
        return True


async def test_supervisors_sharing_a_budget_stay_under_it_and_share_it_fairly() -> None:
    CountingSupervisor.reads = Counter()
    budget = ReadBudget(per_s=40, burst=10)
    # check_once is overridden: only the store is touched (the link state of unknown devices
    # is not published)
    store = StateStore()
    site: Any = SimpleNamespace(store=store, connections=Connections(store))
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


def test_a_budget_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="per_s > 0"):
        ReadBudget(per_s=0)
