"""The benchmarks cannot rot: the 9-point bring-up bench runs (short latencies) and reports JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _bench(*args: str, timeout_s: float) -> Any:
    """Run a bench script; its last line of output, as JSON."""
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_bringup_bench_prints_its_figures_as_json_last() -> None:
    result = _bench("bench/bringup.py", "--points", "9", "--runs", "1", "--fast", timeout_s=60)
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
    result = _bench("bench/cascade.py", "--points", "12", "--runs", "1", "--fast", timeout_s=120)
    assert result["bench"] == "cascade"
    assert result["placement"] == {"mcu": 6, "mcu-2": 6}  # half the roster behind the link
    assert result["connected"] == 12
    assert result["recording"] is True
    # the link was dialled and measured; the critical path runs through it or the host's half
    assert result["link_connect_s"] > 0
    assert 0 < result["critical_path_s"] <= result["wall_s"]


def test_onvif_status_bench_measures_both_paths_against_one_camera() -> None:
    result = _bench("bench/onvif_status.py", "--reads", "50", timeout_s=120)
    assert result["bench"] == "onvif_status"
    assert result["reads"] == 50
    for key in ("zeep_cpu_ms_per_read", "cpu_ms_per_read", "health_cpu_ms_per_read"):
        assert isinstance(result[key], float) and result[key] > 0, key
    # the codec's GetStatus does less work than zeep's for the same answer
    assert result["ratio"] < 1.0
