"""One orchestration core: the session lock across processes, interruption, names, presets.

Real processes against the simulated rig: two drills at once, Ctrl-C into a bring-up on the
realistic scenario, a 40-character point id, an ONVIF preset token the camera does not have.
"""

from __future__ import annotations

import asyncio
import copy
import json
import signal
import time
import unicodedata
from pathlib import Path
from typing import Any

from daemon_support import start_cli

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from mcu_control.audit import AuditLog
from mcu_control.orchestrator import Orchestrator
from mcu_control.site import Site
from profiles import load_profile
from profiles.naming import drill_name, participant_name

from .conftest import fast


async def _start(*args: str, state: Path) -> asyncio.subprocess.Process:
    proc: asyncio.subprocess.Process = await start_cli(*args, state=state)
    return proc


async def _finish(proc: asyncio.subprocess.Process, timeout: float = 60) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _until(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _audit(state: Path) -> list[dict[str, Any]]:
    path = state / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_two_drills_at_once_one_runs_the_other_refuses_or_queues(tmp_path: Path) -> None:
    data = fast(remap_ports(demo_data()))
    data["drill"]["call_seconds"] = 3.0  # the first drill holds the lock long enough
    path = write_profile(data, tmp_path)
    loaded = load_profile(path)
    lock = tmp_path / f"session-{loaded.profile.site.id}.lock"
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    try:
        common = ("--profile", str(path), "--json", "--point", "gia-binh")
        first = await _start("drill", *common, state=tmp_path)
        await _until(lambda: lock.exists() and '"pid"' in lock.read_text())
        holder = json.loads(lock.read_text())
        assert holder["pid"] == first.pid and holder["operation"] == "drill"

        code, out, err = await _finish(await _start("drill", *common, state=tmp_path))
        assert code == 3, out + err
        refused = json.loads(out)
        assert refused["exit_code"] == 3 and refused["kind"] == "session-busy"
        assert f"a drill is already running (pid {first.pid}, since " in refused["message"]
        assert "--wait" in refused["hint"]

        queued = await _start("drill", *common, "--wait", "60", state=tmp_path)
        code1, out1, err1 = await _finish(first)
        code3, out3, err3 = await _finish(queued)
        assert code1 in (0, 1) and code3 in (0, 1), err1 + err3
        one, three = json.loads(out1), json.loads(out3)
        assert three["started_at"] >= one["finished_at"]  # it waited, then ran: no false FAIL
        assert one["verdict"] != "fail" and three["verdict"] != "fail"
        actions = [r["action"] for r in _audit(tmp_path)]
        assert actions.count("drill.refused") == 1
        assert actions.count("drill.finish") == 2
    finally:
        await rig.stop()


async def test_ctrl_c_half_a_second_into_a_bring_up(tmp_path: Path) -> None:
    path = write_profile(fast(remap_ports(demo_data())), tmp_path)
    loaded = load_profile(path)
    rig = Rig(loaded, load_scenario("realistic"))  # dial 2 s, as in the field
    await rig.start()
    try:
        proc = await _start("bringup", "--profile", str(path), "--json", state=tmp_path)
        await _until(lambda: any(r["action"] == "bringup.start" for r in _audit(tmp_path)))
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        code, out, err = await _finish(proc, timeout=15)
        assert code == 130, out + err
        payload = json.loads(out)
        assert payload["exit_code"] == 130 and payload["kind"] == "interrupted"
        summary = payload["message"]
        assert summary.startswith("interrupted: 0/9 connected, recording off, microphones")
        assert summary.endswith("run `mcu-control bringup` again")
        assert "\n" not in summary

        await asyncio.sleep(2.5)  # a recording request sent before the signal would connect now
        records = _audit(tmp_path)
        actions = [r["action"] for r in records]
        assert "bringup.interrupted" in actions
        assert "recording.start" not in actions
        rec = loaded.profile.central.recorder
        assert rec is not None
        assert rig.mcu is not None
        rig.mcu.state.tick()
        connected = [p.name for p in rig.mcu.state.participants.values() if p.state == "connected"]
        assert rec.id not in connected, "the recording link connected after the signal"
        last = next(r for r in records if r["action"] == "bringup.interrupted")
        assert last["data"]["summary"] == summary
    finally:
        await rig.stop()


async def test_a_40_character_point_id_is_connected_by_drill_and_bring_up(tmp_path: Path) -> None:
    data = fast(remap_ports(demo_data()))
    long_id = "xa-phuong-thi-tran-" + "a" * 21  # 40 characters, the schema allows 48
    assert len(long_id) == 40
    point = next(p for p in data["points"] if p["id"] == "gia-binh")
    point["id"] = long_id
    data["sessions"] = {"rules": [], "one_off": []}
    path = write_profile(data, tmp_path)
    loaded = load_profile(path)  # profile check accepts it: the id maps
    name = participant_name(long_id)
    assert len(drill_name(long_id)) <= 31 and name != long_id
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="test")
    try:
        orch = Orchestrator(site, state_dir=tmp_path)
        drill = await orch.drill(points=[long_id], quick=True)
        call = next(c for c in drill.points[0].checks if c.check == "call.test")
        assert call.verdict.value == "pass", call.reason
        up = await orch.bringup(points=[long_id])
        assert up.points[0].connected, up.points[0].reason
        mcu = await site.mcu()
        names = {p.name for p in await mcu.participants(loaded.profile.mcu.conference.name)}
        assert name in names and all(len(n) <= 31 for n in names)
        await orch.teardown(points=[long_id])
    finally:
        await site.close()
        await rig.stop()


async def test_colliding_long_ids_are_rejected_by_profile_check(tmp_path: Path) -> None:
    data = fast(remap_ports(demo_data()))
    data["sessions"] = {"rules": [], "one_off": []}
    rec = next(p for p in data["points"] if p["role"] == "central")["recorder"]
    point = next(p for p in data["points"] if p["id"] == "gia-binh")
    point["id"] = rec["id"]  # the point's participant would be the recorder's
    path = write_profile(data, tmp_path)
    proc = await _start("profile", "check", str(path), "--json", state=tmp_path)
    code, out, err = await _finish(proc)
    assert code == 3, out + err
    problems = json.loads(out)["problems"]
    assert any("which the recorder" in p["message"] for p in problems)


async def test_a_missing_onvif_token_fails_the_drills_camera_preset(tmp_path: Path) -> None:
    data = fast(remap_ports(demo_data()))
    rig = Rig(load_profile(write_profile(data, tmp_path / "rig")), load_scenario("normal"))
    await rig.start()
    wrong = copy.deepcopy(data)
    point = next(p for p in wrong["points"] if p["id"] == "yen-phong")
    cam = point["cameras"][0]
    cam["presets"][cam["session_preset"]] = "preset-khong-co"  # the camera has no such token
    loaded = load_profile(write_profile(wrong, tmp_path / "wrong"))
    site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="test")
    try:
        report = await Orchestrator(site, state_dir=tmp_path).drill(points=["yen-phong"])
        check = next(c for c in report.points[0].checks if c.check == "camera.preset")
        assert check.verdict.value == "fail"
        assert "'preset-khong-co'" in check.reason
        assert "'preset-toan-canh'" in check.reason  # the camera's own tokens are named
    finally:
        await site.close()
        await rig.stop()


async def test_status_asks_the_running_daemon(tmp_path: Path) -> None:
    import datetime as dt

    from mcu_control.app import FeedOptions, build_daemon
    from mcu_control.runtime import OrchestratorActions
    from scheduler.calendar import Occurrence

    data = fast(remap_ports(demo_data()))
    path = write_profile(data, tmp_path)
    loaded = load_profile(path)
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="test")
    try:  # a drill stored before the daemon starts
        drill = await Orchestrator(site, state_dir=tmp_path).drill(points=["gia-binh"], quick=True)
    finally:
        await site.close()
    daemon = build_daemon(
        loaded, state_dir=tmp_path, feed=FeedOptions(embedded=False), supervise_interval_s=30
    )
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await _until((tmp_path / "status.sock").exists)
        start = dt.datetime.now(dt.UTC)
        occ = Occurrence("phien", "Phiên thử", start, start + dt.timedelta(hours=1))
        assert isinstance(daemon.actions, OrchestratorActions)
        await daemon.actions.bringup(occ)

        code, out, err = await _finish(
            await _start("status", "--profile", str(path), "--json", state=tmp_path)
        )
        snap = json.loads(out)
        assert snap["source"] == "daemon", err
        assert snap["session"]["phase"] == "in-session"
        assert snap["session"]["recording"] is True
        assert snap["last_drill"]["id"] == drill.id
        assert code in (0, 2)
        assert snap["session"]["starts_at"].endswith("+07:00")  # site time in JSON

        code2, out2, err2 = await _finish(  # the human form, through the full command
            await _start("status", "--profile", str(path), state=tmp_path)
        )
        assert code2 == code, err2
        assert loaded.profile.site.name in out2 and "in-session" in out2
    finally:
        site = Site(loaded, actor="test")
        try:
            await Orchestrator(site, state_dir=tmp_path).teardown()
        finally:
            await site.close()
        daemon.request_stop()
        await asyncio.wait_for(task, 15)
        await rig.stop()


async def test_status_without_a_daemon_derives_the_session_from_the_mcu(tmp_path: Path) -> None:
    path = write_profile(fast(remap_ports(demo_data())), tmp_path)
    loaded = load_profile(path)
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="test")
    try:
        orch = Orchestrator(site, state_dir=tmp_path)
        drill = await orch.drill(points=["gia-binh"], quick=True)
        await orch.bringup(points=["gia-binh"])
        _code, out, err = await _finish(
            await _start("status", "--profile", str(path), "--json", state=tmp_path)
        )
        snap = json.loads(out)
        assert snap["source"] == "devices", err
        assert snap["session"]["phase"] == "in-session"
        assert snap["session"]["recording"] is True
        assert snap["last_drill"]["id"] == drill.id
        await orch.teardown(points=["gia-binh"])
    finally:
        await site.close()
        await rig.stop()


async def test_a_drill_over_mqtt_is_stored_like_a_cli_drill(tmp_path: Path) -> None:
    from mcu_control.app import command_router
    from mcu_control.drillstore import DrillStore
    from mcu_control.runtime import SiteHolder
    from mcu_control.state import StateStore

    path = write_profile(fast(remap_ports(demo_data())), tmp_path)
    loaded = load_profile(path)
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    holder = SiteHolder(
        loaded, StateStore(), AuditLog(tmp_path / "audit.jsonl"), state_dir=tmp_path
    )
    try:
        router = command_router(holder)
        summary = await router["drill"]({"points": ["gia-binh"], "quick": True})
        stored = DrillStore(tmp_path / "drills.sqlite").last()
        assert stored is not None and stored.id == summary["id"] and stored.label == "mqtt"
        preset = await router["camera-preset"](
            {"point": "gia-binh", "preset": unicodedata.normalize("NFD", "toàn cảnh")}
        )
        assert preset["token"] == "preset-toan-canh" and preset["arrived"] is True
    finally:
        await holder.site.close()
        await rig.stop()


async def test_sigterm_during_a_drill_is_143_with_the_test_conference_removed(
    tmp_path: Path,
) -> None:
    data = fast(remap_ports(demo_data()))
    data["drill"]["call_seconds"] = 5.0
    path = write_profile(data, tmp_path)
    loaded = load_profile(path)
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    try:
        proc = await _start("drill", "--point", "gia-binh", "--profile", str(path), state=tmp_path)
        await _until(lambda: any(r["action"] == "drill.start" for r in _audit(tmp_path)))
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        code, out, err = await _finish(proc, timeout=15)
        assert code == 143, out + err
        assert "interrupted: drill stopped after" in err
        assert "run `mcu-control drill` again" in err
        assert "drill.interrupted" in [r["action"] for r in _audit(tmp_path)]
        assert rig.mcu is not None
        drill_conf = f"{loaded.profile.mcu.conference.name[:28]}-KT"
        assert drill_conf not in rig.mcu.state.conferences  # cleaned up on the way out
        assert not (tmp_path / "drills.sqlite").exists() or "gia-binh" not in json.dumps(
            [r for r in _audit(tmp_path) if r["action"] == "drill.finish"]
        )
    finally:
        await rig.stop()


async def test_a_permanent_refusal_is_not_redialled(tmp_path: Path) -> None:
    loaded = load_profile(write_profile(fast(remap_ports(demo_data())), tmp_path))
    normal = load_scenario("normal")
    full = normal.model_copy(
        update={"defaults": normal.defaults.model_copy(update={"mcu_capacity": 2})}
    )
    rig = Rig(loaded, full)  # the MCU holds 2 participants: the rest get "too many participants"
    await rig.start()
    site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="test")
    try:
        report = await Orchestrator(site, state_dir=tmp_path).bringup(
            points=["tien-du", "gia-binh", "luong-tai", "que-vo"]
        )
        refused = [p for p in report.points if not p.connected]
        assert refused, "the MCU's capacity should refuse some points"
        assert loaded.profile.bringup.dial_attempts > 1
        for p in refused:
            alternates = len(loaded.profile.point(p.point).codec.alternates)
            assert p.attempts == 1 + alternates, (p.point, p.attempts, p.reason)  # once per address
            assert "too many participants" in p.reason
        await Orchestrator(site, state_dir=tmp_path).teardown()
    finally:
        await site.close()
        await rig.stop()


async def test_a_cancelled_bring_up_leaves_the_store_telling_the_truth(tmp_path: Path) -> None:
    import contextlib

    loaded = load_profile(write_profile(fast(remap_ports(demo_data())), tmp_path))
    rig = Rig(loaded, load_scenario("realistic"))
    await rig.start()
    site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="test")
    try:
        orch = Orchestrator(site, state_dir=tmp_path)
        task = asyncio.create_task(orch.bringup())
        await asyncio.sleep(0.5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert orch.interrupted is not None
        assert orch.interrupted.startswith("interrupted: 0/9 connected, recording off")
        assert site.store.session.phase.value == "idle"  # not stuck in "bringup"
        assert not orch.lock.holder()  # the lock is free again
        await Orchestrator(site, state_dir=tmp_path).teardown()
    finally:
        await site.close()
        await rig.stop()
