"""Bring-up of a roster across two cascaded MCUs: wall time against the critical path.

The 9-point demo scaled to `--points` (default 40) on two simulated Cisco 5320 (40 video ports
each): the second half of the roster prefers `mcu-2`, so the host dials its half, mcu-2 dials
the other half and the host joins mcu-2's conference by a cascade link (docs/mcu.md
"Cascading"). Scenario `realistic` (MCU dial 2 s, preset move 1 s, mixer replies 20 ms).

Critical path, from the same bring-up's report: the slowest of
* a host point's own chain (dial until connected ‖ presets ‖ unmute: `duration_s`), and
* for mcu-2: the moment its conference was ready (`mcu_ready_s`, from the bring-up's start)
  plus the longer of the cascade link's dial and the slowest of its points' chains —
  a point behind the link is in the session only once both are connected.
As a second baseline, each run also brings the same roster up on **one** MCU large enough
for it (the cascade's cost over no cascade).

Prints the figures and, last, one JSON line. Target: wall ≤ 1.15 × critical path.
Run: .venv/bin/python bench/cascade.py [--points 40] [--runs 3] [--fast]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import benchlib
from bringup import bench_timings

TARGET = 1.15


def two_mcus(data: dict[str, Any]) -> None:
    """Host and mcu-2 both a 5320; the second half of the roster prefers mcu-2."""
    from hil.genprofile import localize

    bench_timings(data)
    central = data["points"][0]
    central["mcu"]["model"] = "cisco-mcu-5320"
    data["mcus"] = [
        {
            "id": "mcu-2",
            "name": "MCU 2",
            "driver": "codian-xmlrpc",
            "model": "cisco-mcu-5320",
            "host": "192.0.2.202",  # localize() gives it a port of its own on 127.0.0.1
            "username": "admin",
            "password": {"env": "MCU_CONTROL_DEMO_SECRET"},
            "timeout_s": 30.0,
            "conference": {"name": "TCD-BacNinh-2", "numeric_id": "8102"},
        }
    ]
    half = len(data["points"]) // 2
    for point in data["points"][half:]:
        point["preferred_mcu"] = "mcu-2"
    local = localize(data)
    data.clear()
    data.update(local)


def one_mcu(data: dict[str, Any]) -> None:
    """The same roster on one MCU with room for all of it (the baseline without cascade)."""
    bench_timings(data)


async def one_bringup(make: Any, scenario: Path) -> dict[str, Any]:
    from mcu_control.bringup import bringup
    from mcu_control.site import Site
    from profiles import load_profile

    async with benchlib.rig(make, scenario, subprocess_rig=False) as (profile, _rig_s):
        site = Site(load_profile(profile))
        try:
            t0 = time.perf_counter()
            report = await bringup(site)
            wall = time.perf_counter() - t0
        finally:
            await site.close()
    on = {pid: m for m, ids in report.placement.items() for pid in ids}
    chains = {p.point: p.duration_s for p in report.points}
    host_chain = max((c for pid, c in chains.items() if on.get(pid, "mcu") == "mcu"), default=0.0)
    behind = [0.0]
    for link in report.links:
        mine = [c for pid, c in chains.items() if on.get(pid) == link.mcu]
        behind.append(link.mcu_ready_s + max([link.connect_s, *mine]))
    return {
        "wall_s": wall,
        "critical_path_s": max(host_chain, *behind),
        "host_chain_s": host_chain,
        "behind_link_s": max(behind),
        "link_connect_s": max((lnk.connect_s for lnk in report.links), default=0.0),
        "mcu2_ready_s": max((lnk.mcu_ready_s for lnk in report.links), default=0.0),
        "connected": report.connected,
        "links_connected": sum(1 for lnk in report.links if lnk.connected),
        "links": len(report.links),
        "placement": {m: len(ids) for m, ids in report.placement.items()},
        "recording": report.recording,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    soft, hard = benchlib.raise_nofile()
    defaults = (
        {"dial_latency_s": 0.15, "move_time_s": 0.15, "mixer_latency_s": 0.005} if args.fast else {}
    )
    runs: list[dict[str, Any]] = []
    single: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-cascade-") as tmp:
        base = Path(tmp)
        scenario = benchlib.make_scenario(base, defaults=defaults)
        # warm-up, not measured: imports, the ONVIF WSDL parse, the first connections
        warm = partial(benchlib.make_profile, base, 9, tweak=two_mcus, name="warm.yaml")
        await one_bringup(warm, scenario)
        for i in range(args.runs):
            make = partial(
                benchlib.make_profile, base, args.points, tweak=two_mcus, name=f"c-{i}.yaml"
            )
            r = await one_bringup(make, scenario)
            runs.append(r)
            alone = partial(
                benchlib.make_profile, base, args.points, tweak=one_mcu, name=f"s-{i}.yaml"
            )
            single.append(await one_bringup(alone, scenario))
            print(
                f"run {i + 1}: wall {r['wall_s']:.3f} s, critical path {r['critical_path_s']:.3f}"
                f" s (host chain {r['host_chain_s']:.3f}, behind the link {r['behind_link_s']:.3f}),"
                f" one MCU {single[-1]['wall_s']:.3f} s, connected {r['connected']}/{args.points},"
                f" links {r['links_connected']}/{r['links']}, placement {r['placement']}",
                flush=True,
            )
    wall = benchlib.median([r["wall_s"] for r in runs])
    critical = benchlib.median([r["critical_path_s"] for r in runs])
    one = benchlib.median([r["wall_s"] for r in single])
    all_up = all(
        r["connected"] == args.points and r["links_connected"] == r["links"] == 1 for r in runs
    )
    return {
        "bench": "cascade",
        "points": args.points,
        "runs": args.runs,
        "scenario": "fast" if args.fast else "realistic",
        "nofile": [soft, hard],
        "placement": runs[-1]["placement"],
        "wall_s": wall,
        "critical_path_s": critical,
        "ratio": round(wall / critical, 3),
        "link_connect_s": benchlib.median([r["link_connect_s"] for r in runs]),
        "mcu2_ready_s": benchlib.median([r["mcu2_ready_s"] for r in runs]),
        "one_mcu_wall_s": one,
        "ratio_vs_one_mcu": round(wall / one, 3),
        "connected": min(r["connected"] for r in runs),
        "recording": all(r["recording"] for r in runs),
        "target_ratio": TARGET,
        "ok": wall / critical <= TARGET and all_up,
        "walls_s": [round(r["wall_s"], 3) for r in runs],
        "critical_paths_s": [round(r["critical_path_s"], 3) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--fast", action="store_true", help="short latencies (0.15 s) instead of realistic.yaml"
    )
    args = parser.parse_args()
    with benchlib.quiet_logs():
        result = asyncio.run(run(args))
    benchlib.emit(result)


if __name__ == "__main__":
    main()
