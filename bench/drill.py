"""The drill of N points with one dead device costs that device's timeout, nothing more.

Each run drills the same N-point site twice on the realistic rig: once with every device up
(the baseline) and once with one mixer dead (`tx-tu-son.mixer`, an SNMP agent that does not
answer; every mixer's `timeout_s` is 3 s). The dead device's checks run beside everything
else, so the drill with it should take max(baseline, its timeout), within 15 %.

Prints the figures and, last, one JSON line. Target: ratio = dead / max(baseline, timeout) ≤ 1.15.
Run: .venv/bin/python bench/drill.py [--points 9] [--runs 3] [--full] [--subprocess-rig]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import benchlib

DEAD = "tx-tu-son.mixer"
MIXER_TIMEOUT_S = 3.0


def bench_timings(data: dict[str, Any]) -> None:
    """Field-like drill settings; every mixer gives up after 3 s."""
    data["drill"] = {
        "call_seconds": 2.0,
        "quick_call_seconds": 0.5,
        "connect_timeout_s": 60.0,
        "check_timeout_s": 120.0,
    }
    data["bringup"] = {"poll_interval_s": 0.2}
    for point in data["points"]:
        point["codec"]["timeout_s"] = 10.0
        if point.get("mixer"):
            point["mixer"]["timeout_s"] = MIXER_TIMEOUT_S
        for cam in point["cameras"]:
            cam["timeout_s"] = 10.0
    data["points"][0]["mcu"]["timeout_s"] = 30.0


async def one_drill(
    make: Callable[[], Path], scenario: Path, *, quick: bool, subprocess_rig: bool
) -> dict[str, Any]:
    from mcu_control.drill import Drill
    from mcu_control.results import Verdict
    from mcu_control.site import Site
    from profiles import load_profile

    async with benchlib.rig(make, scenario, subprocess_rig=subprocess_rig) as (profile, _):
        site = Site(load_profile(profile))
        try:
            t0 = time.perf_counter()
            report = await Drill(site, quick=quick).run()
            wall = time.perf_counter() - t0
        finally:
            await site.close()
    failed = sorted({p.point for p in report.points if p.verdict is Verdict.FAIL})
    dead_checks = [c.duration_s for p in report.points for c in p.checks if c.device == DEAD] or [
        0.0
    ]
    why = Counter(
        f"{c.check}: {c.reason.replace(p.point, '<point>')[:90]}"
        for p in report.points
        for c in p.checks
        if c.verdict is Verdict.FAIL and c.device != DEAD
    )
    for reason, n in why.most_common(3):
        print(f"  {n} × {reason}", flush=True)
    return {"wall_s": wall, "failed": failed, "dead_check_s": max(dead_checks)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    soft, hard = benchlib.raise_nofile()
    normal: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-drill-") as tmp:
        base = Path(tmp)
        ok_scn = benchlib.make_scenario(base, name="ok.yaml")
        dead_scn = benchlib.make_scenario(base, devices={DEAD: {"down": True}}, name="dead.yaml")
        # warm-up, not measured: imports, the ONVIF WSDL parse, the first connections
        warm = partial(benchlib.make_profile, base, 1, tweak=bench_timings, name="warm.yaml")
        await one_drill(warm, ok_scn, quick=True, subprocess_rig=False)
        for i in range(args.runs):
            make = partial(
                benchlib.make_profile, base, args.points, tweak=bench_timings, name=f"n-{i}.yaml"
            )
            quick = not args.full
            normal.append(
                await one_drill(make, ok_scn, quick=quick, subprocess_rig=args.subprocess_rig)
            )
            dead.append(
                await one_drill(make, dead_scn, quick=quick, subprocess_rig=args.subprocess_rig)
            )
            print(
                f"run {i + 1}: all up {normal[-1]['wall_s']:.3f} s"
                f" (failed {len(normal[-1]['failed'])} points),"
                f" one dead {dead[-1]['wall_s']:.3f} s (failed {dead[-1]['failed'][:5]},"
                f" dead checks {dead[-1]['dead_check_s']:.3f} s)",
                flush=True,
            )
    normal_s = benchlib.median([r["wall_s"] for r in normal])
    dead_s = benchlib.median([r["wall_s"] for r in dead])
    bound = max(normal_s, MIXER_TIMEOUT_S)
    return {
        "bench": "drill",
        "points": args.points,
        "runs": args.runs,
        "quick": not args.full,
        "rig": "subprocess" if args.subprocess_rig else "in-process",
        "nofile": [soft, hard],
        "dead_device": DEAD,
        "timeout_s": MIXER_TIMEOUT_S,
        "all_up_s": normal_s,
        "one_dead_s": dead_s,
        "dead_cost_s": round(dead_s - normal_s, 3),
        "dead_check_s": benchlib.median([r["dead_check_s"] for r in dead]),
        "ratio": round(dead_s / bound, 3),
        "target_ratio": 1.15,
        "failed_all_up": max(len(r["failed"]) for r in normal),
        "failed_one_dead": max(len(r["failed"]) for r in dead),
        "ok": dead_s / bound <= 1.15
        and all(not r["failed"] for r in normal)
        and all(r["failed"] == [DEAD.split(".", maxsplit=1)[0]] for r in dead),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=9)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="full drill (presets, 2 s calls)")
    parser.add_argument("--subprocess-rig", action="store_true")
    args = parser.parse_args()
    with benchlib.quiet_logs():
        result = asyncio.run(run(args))
    benchlib.emit(result)


if __name__ == "__main__":
    main()
