"""`mcu-control mcu …` as technicians and cron run it: a subprocess against a running simulator."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hil.sim.codian import CodianSim
from hil.sim.http_sim import XmlHttpSimulator
from hil.sim.rmx import RmxSim

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Demo-cli-secret-4b7e"


class ThreadedSim:
    """Runs a simulator on its own event loop in a thread, for synchronous tests."""

    def __init__(self, sim: XmlHttpSimulator) -> None:
        self.sim = sim
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> XmlHttpSimulator:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(5)
        return self.sim

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def run_cli(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MCU_CONTROL_DEMO_SECRET": SECRET}
    return subprocess.run(
        [sys.executable, "-m", "cli", "--profile", str(profile), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )


def mcu_profile(
    write_profile: Callable[[dict[str, Any]], Path],
    data: dict[str, Any],
    port: int,
    **mcu: Any,
) -> Path:
    central = next(p for p in data["points"] if p["role"] == "central")
    central["mcu"].update({"port": port, **mcu})
    return write_profile(data)


@pytest.fixture
def codian() -> Iterator[CodianSim]:
    sim = CodianSim(
        username="admin",
        password=SECRET,
        default_dial_latency_s=0.05,
        addresses={"sip:tien-du@127.0.0.1:15103": {"outcome": "busy"}},
    )
    with ThreadedSim(sim):
        yield sim


def test_info_health_dial_mute_record_over_json(
    codian: CodianSim,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    profile = mcu_profile(write_profile, demo_profile_data, codian.port)

    info = run_cli(profile, "--json", "mcu", "info")
    assert info.returncode == 0, info.stderr
    out = json.loads(info.stdout)
    assert out["device"] == "trung-tam.mcu"
    assert out["model"] == "Codian MCU 5320"

    health = run_cli(profile, "mcu", "health", "--json")
    assert health.returncode == 0, health.stderr
    assert json.loads(health.stdout)["state"] == "ok"

    dial = run_cli(profile, "--json", "mcu", "dial", "tp-bac-ninh", "--wait", "5")
    assert dial.returncode == 0, dial.stderr
    p = json.loads(dial.stdout)["participant"]
    assert p["call_state"] == "connected"
    assert p["address"] == "sip:tp-bac-ninh@127.0.0.1:15101"
    conf = codian.state.conferences["TCD-BacNinh"]  # created from the profile
    assert conf.numeric_id == "8100"

    busy = run_cli(profile, "--json", "mcu", "dial", "tien-du", "--wait", "5")
    assert busy.returncode == 2
    p = json.loads(busy.stdout)["participant"]
    assert (p["call_state"], p["disconnect_reason"]) == ("disconnected", "busy")

    mute = run_cli(profile, "--json", "mcu", "mute", "tp-bac-ninh")
    assert mute.returncode == 0, mute.stderr
    assert json.loads(mute.stdout)["participant"]["audio_muted"] is True

    rec = run_cli(profile, "--json", "mcu", "record", "--wait", "5")
    assert rec.returncode == 0, rec.stderr
    assert json.loads(rec.stdout)["recording_connected"] is True

    listing = run_cli(profile, "-vv", "--json", "mcu", "participants")
    assert listing.returncode == 0, listing.stderr
    names = {p["name"]: p for p in json.loads(listing.stdout)["participants"]}
    assert set(names) == {"tp-bac-ninh", "tien-du", "recorder"}
    assert names["tp-bac-ninh"]["media"]["audio_rx_received"] > 0
    assert "DEBUG" in listing.stderr  # -vv really logged the calls …
    for r in (info, health, dial, busy, mute, rec, listing):
        assert SECRET not in r.stdout + r.stderr  # … and never the password


def test_unreachable_mcu_exits_2_with_a_clear_message(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    profile = mcu_profile(write_profile, demo_profile_data, port, timeout_s=1.0)

    human = run_cli(profile, "mcu", "info")
    assert human.returncode == 2
    assert "trung-tam.mcu" in human.stderr
    assert "cannot connect" in human.stderr
    assert "Traceback" not in human.stderr

    machine = run_cli(profile, "--json", "mcu", "conferences")
    assert machine.returncode == 2
    out = json.loads(machine.stdout)
    assert out["ok"] is False
    assert out["error"] == "TransportError"


def test_missing_secret_is_a_profile_error(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    central = next(p for p in demo_profile_data["points"] if p["role"] == "central")
    central["mcu"]["password"] = {"env": "MCU_CONTROL_TEST_UNSET_SECRET"}
    r = run_cli(write_profile(demo_profile_data), "mcu", "info")
    assert r.returncode == 3
    assert "MCU_CONTROL_TEST_UNSET_SECRET" in r.stderr


def test_rmx_profile_builds_the_rmx_driver(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    with ThreadedSim(RmxSim(username="POLYCOM", password=SECRET)) as sim:
        profile = mcu_profile(
            write_profile,
            demo_profile_data,
            sim.port,
            driver="rmx-xml",
            model="polycom-rmx-1800",
            username="POLYCOM",
        )
        r = run_cli(profile, "--json", "mcu", "info")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["model"] == "Rmx_1800"
        listing = run_cli(profile, "--json", "mcu", "conferences")
        assert listing.returncode == 0, listing.stderr
        assert json.loads(listing.stdout)["conferences"] == []
