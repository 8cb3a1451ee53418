"""Active-only components (feed, supervisors) run only on the daemon that holds the lock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from mcu_control.daemon import Daemon, DaemonConfig
from profiles.loader import SHIPPED_SITES, load_profile


class Probe:
    """A component that records when it runs."""

    def __init__(self, name: str, *, active_only: bool) -> None:
        self.name = name
        self.active_only = active_only
        self.running = False
        self.starts = 0

    async def start(self) -> None:
        self.running = True
        self.starts += 1

    async def stop(self) -> None:
        self.running = False


async def _until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_standby_runs_no_active_only_component_until_it_takes_over(tmp_path: Path) -> None:
    loaded = load_profile(SHIPPED_SITES / "demo.yaml")
    config = DaemonConfig(leader_poll_s=0.1)
    probes = {n: (Probe("feed", active_only=True), Probe("plain", active_only=False)) for n in "ab"}
    a = Daemon(loaded, state_dir=tmp_path, components=probes["a"], config=config)
    b = Daemon(loaded, state_dir=tmp_path, components=probes["b"], config=config)  # same lock file
    task_a = asyncio.create_task(a.run(install_signals=False))
    await _until(lambda: a.active)
    task_b = asyncio.create_task(b.run(install_signals=False))
    try:
        await _until(lambda: probes["b"][1].running)  # b is up, as a standby
        await asyncio.sleep(0.5)
        assert probes["a"][0].running and not b.active
        assert not probes["b"][0].running  # the standby's feed stays off

        a.request_stop()
        await asyncio.wait_for(task_a, 10)
        assert not probes["a"][0].running
        await _until(lambda: b.active)
        await _until(lambda: probes["b"][0].running)
        assert probes["b"][0].starts == 1
    finally:
        a.request_stop()
        b.request_stop()
        await asyncio.gather(task_a, task_b, return_exceptions=True)
