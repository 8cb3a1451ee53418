"""Bring-up of N points on the simulated rig: wall time against the critical path.

The critical path is the slowest point's own chain (dial until connected, preset move,
unmute — they run side by side within a point), read from the per-point timings of the same
bring-up. As a stricter baseline, each run also brings up a 1-point site (the central point
alone) on its own rig. The sequential estimate is the sum of every point's chain.

Prints the figures and, last, one JSON line. Targets: ratio ≤ 1.15 at 9 points, ≤ 1.5 at 1000.
Run: .venv/bin/python bench/bringup.py [--points 9] [--runs 3] [--subprocess-rig] [--fast]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import benchlib

TARGETS = {9: 1.15, 1000: 1.5}


def bench_timings(data: dict[str, Any]) -> None:
    """Field-like retry and poll settings; no timeout shorter than the realistic latencies."""
    data["bringup"] = {
        "dial_attempts": 3,
        "retry_backoff_s": 0.3,
        "connect_timeout_s": 60.0,
        "poll_interval_s": 0.2,
        "preset_timeout_s": 30.0,
    }
    for point in data["points"]:
        point["codec"]["timeout_s"] = 10.0
        if point.get("mixer"):
            point["mixer"]["timeout_s"] = 10.0
        for cam in point["cameras"]:
            cam["timeout_s"] = 10.0
    data["points"][0]["mcu"]["timeout_s"] = 30.0


async def one_bringup(
    make: Callable[[], Path], scenario: Path, subprocess_rig: bool
) -> dict[str, Any]:
    """Start the rig, bring the site up once, return wall time and per-point chains."""
    from mcu_control.bringup import bringup
    from mcu_control.site import Site
    from profiles import load_profile

    async with benchlib.rig(make, scenario, subprocess_rig=subprocess_rig) as (profile, rig_s):
        site = Site(load_profile(profile))
        try:
            t0 = time.perf_counter()
            report = await bringup(site)
            wall = time.perf_counter() - t0
        finally:
            await site.close()
    chains = [p.duration_s for p in report.points]
    slowest = max(report.points, key=lambda p: p.duration_s)
    return {
        "rig_start_s": rig_s,
        "wall_s": wall,
        "connected": report.connected,
        "recording": report.recording,
        "verdict": report.verdict.value,
        "critical_path_s": slowest.duration_s,
        "slowest_point": slowest.point,
        "slowest_connect_s": slowest.connect_s,
        "slowest_steps_s": max((s.duration_s for s in slowest.steps), default=0.0),
        "sequential_s": sum(chains),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    soft, hard = benchlib.raise_nofile()
    defaults = (
        {"dial_latency_s": 0.15, "move_time_s": 0.15, "mixer_latency_s": 0.005} if args.fast else {}
    )
    runs: list[dict[str, Any]] = []
    alone: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-bringup-") as tmp:
        base = Path(tmp)
        scenario = benchlib.make_scenario(base, defaults=defaults)
        # warm-up, not measured: imports, the ONVIF WSDL parse, the first connections
        warm = partial(benchlib.make_profile, base, 1, tweak=bench_timings, name="warm.yaml")
        await one_bringup(warm, scenario, False)
        for i in range(args.runs):
            single = partial(
                benchlib.make_profile, base, 1, tweak=bench_timings, name=f"1-{i}.yaml"
            )
            alone.append((await one_bringup(single, scenario, False))["wall_s"])
            make = partial(
                benchlib.make_profile, base, args.points, tweak=bench_timings, name=f"n-{i}.yaml"
            )
            r = await one_bringup(make, scenario, args.subprocess_rig)
            runs.append(r)
            print(
                f"run {i + 1}: wall {r['wall_s']:.3f} s, critical path {r['critical_path_s']:.3f}"
                f" s ({r['slowest_point']}), alone {alone[-1]:.3f} s,"
                f" connected {r['connected']}/{args.points}",
                flush=True,
            )
    wall = benchlib.median([r["wall_s"] for r in runs])
    critical = benchlib.median([r["critical_path_s"] for r in runs])
    single_s = benchlib.median(alone)
    target = TARGETS.get(args.points, 1.5 if args.points > 9 else 1.15)
    return {
        "bench": "bringup",
        "points": args.points,
        "runs": args.runs,
        "scenario": "fast" if args.fast else "realistic",
        "rig": "subprocess" if args.subprocess_rig else "in-process",
        "nofile": [soft, hard],
        "rig_start_s": benchlib.median([r["rig_start_s"] for r in runs]),
        "wall_s": wall,
        "critical_path_s": critical,
        "ratio": round(wall / critical, 3),
        "one_point_alone_s": single_s,
        "ratio_vs_alone": round(wall / single_s, 3),
        "sequential_s": benchlib.median([r["sequential_s"] for r in runs]),
        "sequential_est_s": round(args.points * single_s, 1),
        "speedup_vs_sequential": round(
            benchlib.median([r["sequential_s"] for r in runs]) / wall, 1
        ),
        "slowest_connect_s": benchlib.median([r["slowest_connect_s"] for r in runs]),
        "connected": min(r["connected"] for r in runs),
        "recording": all(r["recording"] for r in runs),
        "target_ratio": target,
        "ok": wall / critical <= target and all(r["connected"] == args.points for r in runs),
        "walls_s": [round(r["wall_s"], 3) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=9)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--subprocess-rig",
        action="store_true",
        help="run the simulators in a child process, so only the orchestrator is measured here",
    )
    parser.add_argument(
        "--fast", action="store_true", help="short latencies (0.15 s) instead of realistic.yaml"
    )
    args = parser.parse_args()
    with benchlib.quiet_logs():
        result = asyncio.run(run(args))
    benchlib.emit(result)


if __name__ == "__main__":
    main()
