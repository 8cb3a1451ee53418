"""Fault-injection fixtures: one device of the demo rig, its simulator, a proxy, a Site."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from integration.conftest import fast

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from mcu_control.audit import AuditLog
from mcu_control.site import Site
from profiles import load_profile
from profiles.loader import LoadedProfile

os.environ.setdefault("MCU_CONTROL_DEMO_SECRET", "rig-secret-2026")

#: every device deadline in the chaos profile (seconds)
TIMEOUT_S = 0.3


def chaos_data(timeout_s: float = TIMEOUT_S, *, mcu: str = "codian") -> dict[str, Any]:
    """The demo site on free ports with every device deadline set to `timeout_s`.

    `mcu="rmx"` swaps the central MCU for a Polycom RMX (same host and port).
    """
    data = remap_ports(demo_data())
    if mcu == "rmx":
        central = next(p for p in data["points"] if p.get("mcu"))
        central["mcu"]["driver"] = "rmx-xml"
        central["mcu"]["model"] = "polycom-rmx-1800"
    for point in data["points"]:
        point["codec"]["timeout_s"] = timeout_s
        for cam in point["cameras"]:
            cam["timeout_s"] = timeout_s
        if point.get("mixer"):
            point["mixer"]["timeout_s"] = timeout_s
        if point.get("mcu"):
            point["mcu"]["timeout_s"] = timeout_s
    return data


@pytest.fixture(scope="module")
def chaos_site_profile(tmp_path_factory: pytest.TempPathFactory) -> LoadedProfile:
    """One profile per module: each case starts (and stops) only its own simulator."""
    return load_profile(write_profile(chaos_data(), tmp_path_factory.mktemp("chaos")))


@pytest.fixture(scope="module")
def chaos_rmx_profile(tmp_path_factory: pytest.TempPathFactory) -> LoadedProfile:
    """The same with a Polycom RMX as the MCU."""
    return load_profile(write_profile(chaos_data(mcu="rmx"), tmp_path_factory.mktemp("rmx")))


RigFactory = Callable[..., Any]


@pytest.fixture
def chaos_rig(tmp_path: Path) -> RigFactory:
    """`async with chaos_rig(dial_latency_s=…) as (site, rig, loaded)`: the whole rig and a Site."""

    @asynccontextmanager
    async def make(
        *,
        dial_latency_s: float = 0.15,
        mqtt: dict[str, Any] | None = None,
        device_timeout_s: float | None = None,
    ) -> AsyncIterator[tuple[Site, Rig, LoadedProfile]]:
        data = fast(remap_ports(demo_data()))
        if device_timeout_s is not None:  # slack for cases that start a CLI on a loaded machine
            for point in data["points"]:
                for cam in point["cameras"]:
                    cam["timeout_s"] = device_timeout_s
                if point.get("mixer"):
                    point["mixer"]["timeout_s"] = device_timeout_s
        data["mqtt"] = {"keepalive_s": 5, "reconnect_max_s": 1, **(mqtt or {})}
        loaded = load_profile(write_profile(data, tmp_path))
        base = load_scenario("normal")
        scen = base.model_copy(
            update={
                "defaults": base.defaults.model_copy(
                    update={"dial_latency_s": dial_latency_s, "move_time_s": 0.15}
                )
            }
        )
        rig = Rig(loaded, scen)
        await rig.start()
        site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="chaos")
        try:
            yield site, rig, loaded
        finally:
            await site.close()
            await rig.stop()

    return make
