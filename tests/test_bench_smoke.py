"""The benchmarks cannot rot: the 9-point bring-up bench runs (short latencies) and reports JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bringup_bench_prints_its_figures_as_json_last() -> None:
    proc = subprocess.run(
        [sys.executable, "bench/bringup.py", "--points", "9", "--runs", "1", "--fast"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["bench"] == "bringup"
    assert result["points"] == 9
    assert result["connected"] == 9
    assert result["recording"] is True
    for key in ("wall_s", "critical_path_s", "ratio", "sequential_s", "one_point_alone_s"):
        assert isinstance(result[key], float) and result[key] > 0, key
    # the chain was measured, not made up: 9 points in parallel beat them one after another
    assert result["sequential_s"] > 3 * result["wall_s"]
    assert result["critical_path_s"] <= result["wall_s"]


def test_cascade_bench_brings_a_roster_up_across_two_mcus() -> None:
    proc = subprocess.run(
        [sys.executable, "bench/cascade.py", "--points", "12", "--runs", "1", "--fast"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["bench"] == "cascade"
    assert result["placement"] == {"mcu": 6, "mcu-2": 6}  # half the roster behind the link
    assert result["connected"] == 12
    assert result["recording"] is True
    # the link was dialled and measured; the critical path runs through it or the host's half
    assert result["link_connect_s"] > 0
    assert 0 < result["critical_path_s"] <= result["wall_s"]
