"""Run the simulated rig for one profile and scenario until stdin closes (used by benchmarks).

Run: .venv/bin/python bench/rigrunner.py PROFILE SCENARIO — prints "RIG READY" once every
simulator listens, stops them all when its stdin reaches end of file.
"""

from __future__ import annotations

import asyncio
import sys

import benchlib


async def main(profile: str, scenario: str) -> None:
    from hil.rig import Rig
    from hil.scenario import load_scenario
    from profiles import load_profile

    benchlib.raise_nofile()
    rig = Rig(load_profile(profile), load_scenario(scenario))
    await rig.start()
    try:
        print(benchlib.READY, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
    finally:
        await rig.stop()


if __name__ == "__main__":
    with benchlib.quiet_logs():
        asyncio.run(main(sys.argv[1], sys.argv[2]))
