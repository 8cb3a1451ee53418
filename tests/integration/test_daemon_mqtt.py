"""The daemon itself on a real mosquitto: last will on SIGKILL, full republish after a broker restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mqtt_support import Recorder, mosquitto

from hil.genprofile import demo_data, remap_ports, write_profile

from .conftest import fast

ROOT = Path(__file__).resolve().parents[2]


async def _until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_daemon_kill9_sets_offline_and_broker_restart_republishes(tmp_path: Path) -> None:
    data = fast(remap_ports(demo_data()))
    data["mqtt"] = {"keepalive_s": 5}
    profile = write_profile(data, tmp_path)
    prefix = f"mcu-control/{data['site']['id']}"
    with mosquitto(tmp_path / "broker") as broker:
        env = {**os.environ, "MCU_CONTROL_STATE_DIR": str(tmp_path / "state")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "run",
                "--profile",
                str(profile),
                "--mqtt-url",
                broker.url(),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        rec = Recorder(broker.port, [f"{prefix}/#"])
        try:
            await _until(lambda: rec.latest(f"{prefix}/status") == "online", 30)
            await _until(lambda: len({t for t, *_ in rec.messages if "/point/" in t}) == 9, 15)

            broker.stop()  # no persistence: the restarted broker knows nothing
            broker.start()
            fresh = Recorder(broker.port, [f"{prefix}/#"])
            try:
                await _until(
                    lambda: len({t for t, *_ in fresh.messages if "/point/" in t}) == 9, 30
                )
                point = fresh.latest(f"{prefix}/point/luong-tai")
                assert isinstance(point, dict) and point["name"] == "Huyện Lương Tài"
                assert fresh.latest(f"{prefix}/status") == "online"

                t0 = time.monotonic()
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=5)
                await _until(lambda: fresh.latest(f"{prefix}/status") == "offline", 5 * 1.5 + 2)
                assert time.monotonic() - t0 < 5 * 1.5 + 2  # the broker's keepalive grace
            finally:
                fresh.close()
        finally:
            rec.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
