"""Bring-up and drill across two MCUs: the host links the secondary's conference (cascade),
each MCU dials its own points, a dead secondary fails only its points; the national link."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mqtt_support import free_port

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import DeviceBehaviour, load_scenario
from hil.sim.codian import CodianSim
from mcu_control.audit import AuditLog
from mcu_control.bringup import bringup, teardown
from mcu_control.drill import Drill
from mcu_control.site import Site
from profiles import load_profile

from .conftest import fast

SECONDARY_POINTS = ["gia-binh", "luong-tai"]  # they prefer mcu-2
UPSTREAM = "sip:8000@127.0.0.1:15999"


def two_mcu_profile(tmp_path: Path, port: int, *, upstream: bool = False) -> Path:
    data = fast(remap_ports(demo_data()))
    data["mcus"] = [
        {
            "id": "mcu-2",
            "name": "MCU huyện phía nam",
            "driver": "codian-xmlrpc",
            "model": "cisco-mcu-5320",
            "host": "127.0.0.1",
            "port": port,
            "tls": False,
            "username": "admin",
            "password": {"env": "MCU_CONTROL_DEMO_SECRET"},
            "timeout_s": 3.0,
            "conference": {"name": "TCD-BacNinh-2", "numeric_id": "8102"},
        }
    ]
    for point in data["points"]:
        if point["id"] in SECONDARY_POINTS:
            point["preferred_mcu"] = "mcu-2"
    if upstream:
        data["upstream"] = {"address": UPSTREAM, "bandwidth_kbps": 1024}
    return write_profile(data, tmp_path)


@asynccontextmanager
async def two_mcus(
    tmp_path: Path, *, secondary_up: bool = True, upstream: bool = False
) -> AsyncIterator[tuple[Site, Rig, CodianSim | None]]:
    """The rig serves both MCUs (the secondary deliberately down when not `secondary_up`)."""
    port = free_port()
    loaded = load_profile(two_mcu_profile(tmp_path, port, upstream=upstream))
    scenario = load_scenario("normal")
    if not secondary_up:
        down = {"trung-tam.mcu-2": DeviceBehaviour(down=True)}
        scenario = scenario.model_copy(update={"devices": down})
    rig = Rig(loaded, scenario)
    await rig.start()
    second: CodianSim | None = rig.mcus.get("mcu-2")
    site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="test")
    try:
        yield site, rig, second
    finally:
        await site.close()
        await rig.stop()


def names(participants: list[Any]) -> dict[str, str]:
    return {p.name: p.call_state.value for p in participants}


async def test_bringup_cascades_the_secondary_and_dials_its_points_there(tmp_path: Path) -> None:
    async with two_mcus(tmp_path) as (site, _rig, _second):
        report = await bringup(site)
        assert report.exit_code == 0, report.to_dict()
        assert report.placement["mcu-2"] == SECONDARY_POINTS
        assert [(lnk.id, lnk.kind, lnk.connected) for lnk in report.links] == [
            ("lien-mcu-2", "cascade", True)
        ]
        assert report.links[0].address == "sip:8102@127.0.0.1"
        host_calls = names(await (await site.mcu()).participants("TCD-BacNinh"))
        second_calls = names(await (await site.mcu("mcu-2")).participants("TCD-BacNinh-2"))
        # each point is on its own MCU only; the link is a participant of the host
        assert host_calls["lien-mcu-2"] == "connected"
        for pid in SECONDARY_POINTS:
            assert second_calls[pid] == "connected"
            assert pid not in host_calls
        assert "tien-du" in host_calls and "tien-du" not in second_calls
        session = site.store.session
        assert [(lnk.id, lnk.phase.value) for lnk in session.links] == [("lien-mcu-2", "connected")]
        actions = [r["action"] for r in site.audit.records()] if site.audit else []
        assert "bringup.link_connected" in actions

        down = await teardown(site)
        assert down["ok"], down
        assert not names(await (await site.mcu("mcu-2")).participants("TCD-BacNinh-2"))
        assert "lien-mcu-2" not in names(await (await site.mcu()).participants("TCD-BacNinh"))


async def test_a_dead_secondary_fails_only_its_points_and_names_the_mcu(tmp_path: Path) -> None:
    async with two_mcus(tmp_path, secondary_up=False) as (site, _rig, _):
        started = time.monotonic()
        report = await bringup(site)
        elapsed = time.monotonic() - started
        assert report.exit_code == 2
        by_point = {p.point: p for p in report.points}
        for pid in SECONDARY_POINTS:
            assert not by_point[pid].connected
            assert "MCU mcu-2" in by_point[pid].reason
            assert by_point[pid].attempts == 0  # nothing dialled on a dead MCU
        others = [p for p in report.points if p.point not in SECONDARY_POINTS]
        assert all(p.connected for p in others), [p.reason for p in others if not p.connected]
        assert report.recording
        assert not report.links[0].connected and "MCU mcu-2" in report.links[0].reason
        assert site.store.points["gia-binh"].phase.value == "offline"
        assert elapsed < 15  # bounded by the secondary's timeout, not a hang


async def test_a_failed_cascade_link_fails_the_points_behind_it(tmp_path: Path) -> None:
    async with two_mcus(tmp_path) as (site, rig, _second):
        rig.mcu.set_behaviour("sip:8102@127.0.0.1", outcome="unreachable")
        report = await bringup(site)
        assert report.exit_code == 2
        by_point = {p.point: p for p in report.points}
        for pid in SECONDARY_POINTS:
            assert not by_point[pid].connected
            assert "cascade link" in by_point[pid].reason
        assert by_point["tien-du"].connected
        assert site.store.session.links[0].phase.value == "failed"


async def test_the_drill_tests_the_cascade_link_and_the_secondary(tmp_path: Path) -> None:
    async with two_mcus(tmp_path) as (site, _rig, _second):
        report = await Drill(site, quick=True, label="T-2h").run()
        checks = {(c.point, c.check, c.device): c for p in report.points for c in p.checks}
        link = checks[("trung-tam", "cascade.link", "trung-tam.mcu-2")]
        assert link.verdict.value == "pass", link.reason
        assert checks[("trung-tam", "mcu.health", "trung-tam.mcu-2")].verdict.value == "pass"
        for pid in SECONDARY_POINTS:
            call = next(c for (p, n, _), c in checks.items() if p == pid and n == "call.test")
            assert call.verdict.value == "pass", call.reason
        # the drill leaves nothing behind on either MCU
        assert {c.name for c in await (await site.mcu("mcu-2")).conferences()} == set()


async def test_the_drill_fails_a_dead_secondarys_points_naming_it(tmp_path: Path) -> None:
    async with two_mcus(tmp_path, secondary_up=False) as (site, _rig, _):
        drill = Drill(site, quick=True, label="T-1d")
        planned = drill.planned_checks()
        report = await drill.run()
        assert report.exit_code == 2
        results = [c for p in report.points for c in p.checks]
        assert len(results) == planned
        for pid in SECONDARY_POINTS:
            call = next(c for c in results if c.point == pid and c.check == "call.test")
            assert call.verdict.value == "fail" and "MCU mcu-2" in call.reason
        link = next(c for c in results if c.check == "cascade.link")
        assert link.verdict.value == "fail" and "MCU mcu-2" in link.reason
        tien_du = next(c for c in results if c.point == "tien-du" and c.check == "call.test")
        assert tien_du.verdict.value == "pass", tien_du.reason


async def test_a_national_session_brings_up_and_drills_the_upstream_link(tmp_path: Path) -> None:
    async with two_mcus(tmp_path, upstream=True) as (site, rig, _second):
        report = await Drill(site, quick=True, national=True).run()
        up = next(c for p in report.points for c in p.checks if c.check == "upstream.call")
        assert up.verdict.value == "pass", up.reason
        assert up.data["packets"] > 0  # measured media, not just "no complaint"

        report_up = await bringup(site, national=True)
        upstream = next(lnk for lnk in report_up.links if lnk.kind == "upstream")
        assert upstream.connected and upstream.id == "trung-uong"
        host_calls = names(await (await site.mcu()).participants("TCD-BacNinh"))
        assert host_calls["trung-uong"] == "connected"
        assert site.store.session.national
        await teardown(site)

        rig.mcu.set_behaviour(UPSTREAM, outcome="busy")
        failed = await bringup(site, national=True)
        upstream = next(lnk for lnk in failed.links if lnk.kind == "upstream")
        assert not upstream.connected and failed.exit_code == 2


async def test_the_call_supervisor_sees_points_on_every_mcu_and_a_dropped_link(
    tmp_path: Path,
) -> None:
    """The daemon's call reads cover the secondary's conference; a link that drops in session
    shows failed (panels), and the secondary MCU's health is read like the host's."""
    from mcu_control.status import apply_calls, device_readers, read_calls

    async with two_mcus(tmp_path, upstream=True) as (site, _rig, _second):
        assert "trung-tam.mcu-2" in site.store.devices
        assert "trung-tam.mcu-2" in device_readers(site)
        health = await device_readers(site)["trung-tam.mcu-2"]()
        assert health.state.value == "ok"

        report = await bringup(site, national=True)
        assert report.exit_code == 0, report.to_dict()
        apply_calls(site, *await read_calls(site, 5.0))
        for pid in SECONDARY_POINTS:  # connected on mcu-2 only, and the supervisor knows it
            assert site.store.points[pid].phase.value == "in-session"
        phases = {lnk.id: lnk.phase.value for lnk in site.store.session.links}
        assert phases == {"lien-mcu-2": "connected", "trung-uong": "connected"}

        host = await site.mcu()
        await host.disconnect_participant("TCD-BacNinh", "trung-uong")
        apply_calls(site, *await read_calls(site, 5.0))
        links = {lnk.id: lnk for lnk in site.store.session.links}
        assert links["trung-uong"].phase.value == "failed"
        assert links["trung-uong"].reason
        assert links["lien-mcu-2"].phase.value == "connected"
