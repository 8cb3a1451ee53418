"""The README's first steps work as written (issue 17): `sim up` here, `drill` there.

Both run against the shipped demo profile with no secret in the environment: every command
finds the demo secret the way `sim up` does. The shipped demo listens on fixed ports, so the
test skips (saying why) if another rig already holds them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(state: Path) -> dict[str, str]:
    env = dict(os.environ, MCU_CONTROL_STATE_DIR=str(state))
    for name in ("MCU_CONTROL_DEMO_SECRET", "MCU_CONTROL_PROFILE", "COLUMNS"):
        env.pop(name, None)
    return env


def test_sim_up_in_one_terminal_drill_in_another(tmp_path: Path) -> None:
    if Path("/etc/mcu-control/profile.yaml").exists():
        pytest.skip("/etc/mcu-control/profile.yaml exists: the commands would use it")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "mcu-control sim up" in readme and "mcu-control drill" in readme  # as documented
    sim = subprocess.Popen(
        [sys.executable, "-m", "cli", "sim", "up"],
        cwd=ROOT,
        env=_env(tmp_path / "sim-state"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert sim.stderr is not None
        deadline = time.monotonic() + 60
        seen = ""
        while "rig running" not in seen:
            line = sim.stderr.readline()
            if not line:
                out = sim.stdout.read() if sim.stdout else ""
                if "in use" in seen + out or "Address already" in seen + out:
                    pytest.skip(f"the demo rig's fixed ports are taken: {seen[-300:]}")
                raise AssertionError(f"sim up exited ({sim.wait()}): {seen}{out}")
            seen += line
            assert time.monotonic() < deadline, seen
        drill = subprocess.run(
            [sys.executable, "-m", "cli", "drill"],
            cwd=ROOT,
            env=_env(tmp_path / "state"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = drill.stdout + drill.stderr
        assert drill.returncode in (0, 1), output
        for line in output.splitlines():
            if "FAIL" in line:
                low = line.lower()
                assert "secret" not in low and "authentic" not in low, line
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sim.pid, signal.SIGINT)
        try:
            sim.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(sim.pid, signal.SIGKILL)
            sim.wait(5)
