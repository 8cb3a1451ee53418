"""CLI start-up time: `mcu-control --help` against a bare interpreter start, in one run.

Also `profile check` and `status --json` against the simulated 9-point rig (started in a
child process; `--no-rig` skips it). Prints the figures and, last, one JSON line.
Target: --help under 0.3 s.
Run: .venv/bin/python bench/cli_startup.py [--runs N] [--no-rig]
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

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False)
        out.append(time.perf_counter() - t0)
    return out


def status_times(runs: int) -> tuple[list[float], int]:
    """`mcu-control status --json` against the 9-point rig; also the exit code of the last run."""
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        base = Path(tmp)
        scenario = benchlib.make_scenario(base, base="normal")
        profile, rig = benchlib.rig_process(lambda: benchlib.make_profile(base, 9), scenario)
        assert rig.stdin is not None
        try:
            cmd = [sys.executable, "-m", "cli", "--json", "--profile", str(profile), "status"]
            env = {**os.environ, "MCU_CONTROL_STATE_DIR": str(base / "state")}
            out, code = [], 0
            for _ in range(runs):
                t0 = time.perf_counter()
                code = subprocess.run(
                    cmd, cwd=ROOT, capture_output=True, env=env, check=False
                ).returncode
                out.append(time.perf_counter() - t0)
            return out, code
        finally:
            rig.stdin.close()
            rig.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-rig", action="store_true", help="skip `status --json`")
    args = parser.parse_args()
    baseline = timed([sys.executable, "-c", "pass"], args.runs)
    help_t = timed([sys.executable, "-m", "cli", "--help"], args.runs)
    check_t = timed(
        [sys.executable, "-m", "cli", "--json", "profile", "check", "profiles/sites/bac-ninh.yaml"],
        args.runs,
    )
    result = {
        "bench": "cli_startup",
        "runs": args.runs,
        "python_s": round(statistics.median(baseline), 4),
        "help_s": round(statistics.median(help_t), 4),
        "profile_check_s": round(statistics.median(check_t), 4),
        "help_ratio": round(statistics.median(help_t) / statistics.median(baseline), 2),
        "target_help_s": 0.3,
    }
    if not args.no_rig:
        status_t, code = status_times(args.runs)
        result["status_json_s"] = round(statistics.median(status_t), 4)
        result["status_exit"] = code
    result["ok"] = result["help_s"] <= 0.3
    for key, value in result.items():
        print(f"{key:>18}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
