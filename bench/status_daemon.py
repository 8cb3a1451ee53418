"""`status --json` with a daemon running on the state directory, during a live session.

Starts the simulated 9-point rig (child process) and `mcu-control run` on a fresh state dir,
runs a quick drill and a bring-up from the CLI (as cron and a technician would), then times
`status --json` — a whole CLI process — and the socket round trip alone. Checks that the answer
says in-session, recording on and the stored last drill. Prints the figures and, last, one JSON
line. Target: status ≤ 0.3 s. `cli_help_s` is the floor of any CLI process on the machine;
`socket_round_trip_ms` is what asking the daemon adds to a process that is already running.
Run: .venv/bin/python bench/status_daemon.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

from mcu_control.statusd import ask_daemon, socket_path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.3


def cli(profile: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cli", "--json", "--profile", str(profile), *args]
    env = {**os.environ, "MCU_CONTROL_STATE_DIR": str(state)}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        base = Path(tmp)
        state = base / "state"
        state.mkdir()
        scenario = benchlib.make_scenario(base, base="normal")
        profile, rig = benchlib.rig_process(lambda: benchlib.make_profile(base, 9), scenario)
        assert rig.stdin is not None
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "--profile",
                str(profile),
                "--state-dir",
                str(state),
                "run",
                "--no-embedded-broker",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not socket_path(state).exists():
                assert time.monotonic() < deadline, "the daemon did not open its status socket"
                time.sleep(0.1)
            drill = json.loads(cli(profile, state, "drill", "--quick").stdout)
            up = cli(profile, state, "bringup")
            assert up.returncode in (0, 1), up.stderr
            time.sleep(4)  # the daemon's call supervisor polls the MCU every 3 s
            helps = []
            for _ in range(args.runs):  # the floor: a CLI process that parses no options
                t0 = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "cli", "--help"],
                    cwd=ROOT,
                    capture_output=True,
                    check=False,
                )
                helps.append(time.perf_counter() - t0)
            wall, sock = [], []
            snap: dict[str, object] = {}
            for _ in range(args.runs):
                t0 = time.perf_counter()
                done = cli(profile, state, "status")
                wall.append(time.perf_counter() - t0)
                snap = json.loads(done.stdout)
                t0 = time.perf_counter()
                ask_daemon(state)
                sock.append(time.perf_counter() - t0)
            session = snap["session"]
            assert isinstance(session, dict)
            last = snap["last_drill"]
            assert isinstance(last, dict)
            result = {
                "bench": "status_daemon",
                "runs": args.runs,
                "source": snap["source"],
                "phase": session["phase"],
                "recording": session["recording"],
                "last_drill_matches": last["id"] == drill["id"],
                "status_json_s": round(statistics.median(wall), 4),
                "status_json_max_s": round(max(wall), 4),
                "socket_round_trip_ms": round(1000 * statistics.median(sock), 2),
                "cli_help_s": round(statistics.median(helps), 4),
                "target_s": TARGET_S,
            }
            result["ok"] = (
                result["source"] == "daemon"
                and result["phase"] == "in-session"
                and result["recording"] is True
                and result["last_drill_matches"] is True
                and result["status_json_s"] <= TARGET_S
            )
            cli(profile, state, "teardown")
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
            rig.stdin.close()
            rig.wait(timeout=60)
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
