"""The simulated 9-point rig on free ports, and a Site wired to it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from mcu_control.audit import AuditLog
from mcu_control.site import Site
from profiles import load_profile

os.environ.setdefault("MCU_CONTROL_DEMO_SECRET", "rig-secret-2026")


def fast(data: dict[str, Any]) -> dict[str, Any]:
    """Test timings: short measurements and retries so the suite stays quick."""
    data["drill"] = {
        "call_seconds": 0.6,
        "quick_call_seconds": 0.3,
        "connect_timeout_s": 6.0,
        "check_timeout_s": 20.0,
    }
    data["bringup"] = {
        "dial_attempts": 2,
        "retry_backoff_s": 0.1,
        "retry_backoff_max_s": 0.3,
        "connect_timeout_s": 6.0,
        "poll_interval_s": 0.1,
        "preset_timeout_s": 6.0,
    }
    for point in data["points"]:
        if point.get("mixer"):
            # 3 s, not 1: the first telnet connect to a Tesira simulator can take over 1 s on a
            # loaded 2-core machine (a false FAIL); a dead mixer still fails within its 3 s
            point["mixer"]["timeout_s"] = 3.0
        for cam in point["cameras"]:
            cam["timeout_s"] = 2.0
        point["codec"]["timeout_s"] = 3.0
    return data


RigFactory = Callable[..., Any]


@pytest.fixture
def rig_site(tmp_path: Path) -> RigFactory:
    @asynccontextmanager
    async def make(
        scenario: str = "normal", points: int | None = None
    ) -> AsyncIterator[tuple[Site, Rig]]:
        data = demo_data()
        if points is not None:
            from hil.genprofile import scaled

            data = scaled(data, points)
        path = write_profile(fast(remap_ports(data)), tmp_path)
        loaded = load_profile(path)
        scen = load_scenario(scenario).model_copy(
            update={
                "defaults": load_scenario(scenario).defaults.model_copy(
                    update={"dial_latency_s": 0.15, "move_time_s": 0.15}
                )
            }
        )
        rig = Rig(loaded, scen)
        await rig.start()
        site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="test")
        try:
            yield site, rig
        finally:
            await site.close()
            await rig.stop()

    return make
