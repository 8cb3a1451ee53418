"""`mcu-control camera …` as a real subprocess against simulated cameras, with --json."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hil.sim.onvif_cam import OnvifCameraSim
from hil.sim.visca_cam import ViscaSerialSim

ROOT = Path(__file__).resolve().parent.parent
SECRET = "demo-secret-for-cli-test"


async def mcu(*args: str) -> tuple[int, Any, str]:
    env = {**os.environ, "MCU_CONTROL_DEMO_SECRET": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    text = out.decode()
    return proc.returncode, json.loads(text) if text.strip() else None, err.decode()


def _camera(data: dict[str, Any], point: str, cam: str) -> dict[str, Any]:
    pt = next(p for p in data["points"] if p["id"] == point)
    found: dict[str, Any] = next(c for c in pt["cameras"] if c["id"] == cam)
    return found


async def test_camera_commands_json(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    visca = ViscaSerialSim(presets={1: (0.2, 0.1, 0.3), 2: (-0.5, -0.2, 0.8), 3: (0, 0, 0.1)})
    onvif = OnvifCameraSim(
        password=SECRET,
        clock_offset_s=-7200,
        presets={"preset-chu-tri": ("chủ trì", 0.2, 0.1, 0.3)},
    )
    silent = OnvifCameraSim(password=SECRET)
    for sim in (visca, onvif, silent):
        await sim.start()
    silent.faults.no_reply = True
    try:
        data = demo_profile_data
        _camera(data, "tien-du", "cam1")["serial"]["port"] = visca.url
        _camera(data, "trung-tam", "cam1")["port"] = onvif.port
        _camera(data, "trung-tam", "cam2")["port"] = silent.port
        data["points"] = [p for p in data["points"] if p["id"] in ("trung-tam", "tien-du")]
        profile = str(write_profile(data))

        rc, out, err = await mcu("--profile", profile, "camera", "list", "--json")
        assert rc == 0, err
        ids = [c["id"] for c in out["cameras"]]
        assert ids == ["trung-tam.cam1", "trung-tam.cam2", "tien-du.cam1"]
        assert out["cameras"][2]["presets"]["toàn cảnh"] == "3"

        rc, out, err = await mcu(
            "--profile", profile, "camera", "goto", "tien-du", "cam1", "toàn cảnh", "--json"
        )
        assert rc == 0, err
        assert out["preset"] == {"name": "toàn cảnh", "token": "3"}
        assert out["arrived"] is True
        assert out["status"]["position"] == {"pan": 0.0, "tilt": 0.0, "zoom": 0.1}

        rc, out, err = await mcu(
            "--profile", profile, "camera", "presets", "trung-tam", "cam1", "--json"
        )
        assert rc == 0, err
        assert out["presets"][0]["token"] == "preset-chu-tri"
        assert out["presets"][0]["profile_name"] == "chủ trì"

        start = time.monotonic()
        rc, out, err = await mcu(
            "--profile", profile, "camera", "status", "--timeout", "4", "--json"
        )
        elapsed = time.monotonic() - start
        assert rc == 2, err  # one camera is silent
        rows = {r["id"]: r for r in out["cameras"]}
        assert rows["tien-du.cam1"]["ok"] is True
        assert rows["tien-du.cam1"]["position"]["zoom"] == 0.1
        assert rows["trung-tam.cam1"]["ok"] is True
        assert abs(rows["trung-tam.cam1"]["clock_offset_s"] + 7200) <= 1.0
        assert rows["trung-tam.cam2"]["ok"] is False
        assert rows["trung-tam.cam2"]["error"]["error"] == "DeviceTimeoutError"
        # process start-up plus one 4 s deadline, not one per camera (3 cameras)
        assert elapsed < 14
        assert SECRET not in json.dumps(out)

        rc, out, _ = await mcu("--profile", profile, "camera", "stop", "tien-du", "cam9", "--json")
        assert rc == 3
        assert "cam9" in out["message"]
    finally:
        for sim in (visca, onvif, silent):
            await sim.stop()


async def test_status_deadlines_run_concurrently(
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
    monkeypatch: Any,
) -> None:
    """Three silent cameras cost one deadline, not three."""
    from mcu_control.commands.camera import _status_of
    from profiles.loader import load_profile

    monkeypatch.setenv("MCU_CONTROL_DEMO_SECRET", SECRET)
    sims = [OnvifCameraSim(password=SECRET) for _ in range(3)]
    for sim in sims:
        await sim.start()
        sim.faults.no_reply = True
    try:
        onvif_cams = [
            (p, c)
            for p in demo_profile_data["points"]
            for c in p["cameras"]
            if c["driver"] == "onvif"
        ][:3]
        for (_, cam), sim in zip(onvif_cams, sims, strict=True):
            cam["port"] = sim.port
        loaded = load_profile(write_profile(demo_profile_data))
        wanted = {(p["id"], c["id"]) for p, c in onvif_cams}
        targets = [
            (pt, cfg)
            for pt in loaded.profile.points
            for cfg in pt.cameras
            if (pt.id, cfg.id) in wanted
        ]
        start = time.monotonic()
        rows = await asyncio.gather(*(_status_of(loaded, pt, cfg, 0.6) for pt, cfg in targets))
        elapsed = time.monotonic() - start
        assert [r["ok"] for r in rows] == [False, False, False]
        assert {r["error"]["error"] for r in rows} == {"DeviceTimeoutError"}
        assert elapsed < 1.2
    finally:
        for sim in sims:
            await sim.stop()


async def _visca_profile(
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
    sim: ViscaSerialSim,
) -> str:
    data = demo_profile_data
    _camera(data, "tien-du", "cam1")["serial"]["port"] = sim.url
    data["points"] = [p for p in data["points"] if p["id"] in ("trung-tam", "tien-du")]
    return str(write_profile(data))


def _stops(sim: ViscaSerialSim) -> int:
    """Pan-tilt Drive bodies with both directions 03 (stop), protocols §4."""
    return sum(b[:3] == b"\x01\x06\x01" and b[5:7] == b"\x03\x03" for b in sim.engine.executed)


async def test_move_absolute_waits_past_the_continuous_timeout(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    """A 1.5 s move succeeds with the default options (--timeout 1 is the continuous one)."""
    sim = ViscaSerialSim(move_time_s=1.5)
    await sim.start()
    try:
        profile = await _visca_profile(demo_profile_data, write_profile, sim)
        args = ["--profile", profile, "camera", "move", "tien-du", "cam1", "--absolute"]
        rc, out, err = await mcu(*args, "--pan", "0.5", "--zoom", "0.4", "--json")
        assert rc == 0, (out, err)
        assert out["status"]["moving"] is False
        assert abs(out["status"]["position"]["pan"] - 0.5) < 0.01
        assert not sim.engine.motion.moving()
    finally:
        await sim.stop()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_interrupted_continuous_move_stops_the_camera(
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
    signum: int,
) -> None:
    sim = ViscaSerialSim()
    await sim.start()
    try:
        profile = await _visca_profile(demo_profile_data, write_profile, sim)
        env = {**os.environ, "MCU_CONTROL_DEMO_SECRET": SECRET}
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "cli", "--profile", profile, "camera", "move"),
            *("tien-du", "cam1", "--pan", "0.2", "--timeout", "30"),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(30):
                while not sim.engine.motion.moving():
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            try:
                proc.send_signal(signum)
            except ProcessLookupError:
                pytest.fail("the CLI exited while the camera was still moving")
            start = time.monotonic()
            await asyncio.wait_for(proc.communicate(), 10)
            assert time.monotonic() - start < 3
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode in (130, 128 + signal.SIGTERM)
        assert _stops(sim) >= 1
        assert not sim.engine.motion.moving()
    finally:
        await sim.stop()
