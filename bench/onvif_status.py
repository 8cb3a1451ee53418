"""CPU of one ONVIF health read: the polled GetStatus through zeep (baseline) and without it.

The simulated camera runs in another process, so only the driver's CPU is counted
(`time.process_time` of this process around each read). Both paths use the same camera object
and kept TCP connection and alternate read by read, so drift hits both alike; `--gap-s` spaces
the reads as a daemon does (its reads are seconds apart: caches are cold, each read costs more).
One run; JSON last line.
Run: .venv/bin/python bench/onvif_status.py [--reads 400] [--gap-s 0]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchlib import emit, median

from devices.interfaces import PtzStatus
from devices.secrets import Secret
from drivers.onvif import codec
from drivers.onvif.driver import OnvifCamera

PASSWORD = "bench-secret"


def _serve(port_out: Any, stop: Any) -> None:
    from hil.sim.onvif_cam import OnvifCameraSim

    async def run() -> None:
        sim = OnvifCameraSim(password=PASSWORD, clock_offset_s=42.0)
        await sim.start()
        port_out.put(sim.port)
        await asyncio.to_thread(stop.wait)
        await sim.stop()

    asyncio.run(run())


async def _cpu_ms(read: Callable[[], Awaitable[Any]]) -> float:
    t0 = time.process_time()
    await read()
    return (time.process_time() - t0) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=400, help="reads per path")
    parser.add_argument("--gap-s", type=float, default=0.0, help="pause after each read")
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    port_q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port_q, stop), daemon=True)
    server.start()
    port = int(port_q.get(timeout=30))
    cam = OnvifCamera(
        "bench.cam", host="127.0.0.1", port=port, username="mcuctl", password=Secret(PASSWORD)
    )
    try:
        await cam.connect()
        ptz: Any = cam._ptz  # the baseline: the library's own call

        async def via_zeep() -> PtzStatus:
            return codec.status(await ptz.GetStatus({"ProfileToken": cam.profile_token}))

        for read in (via_zeep, cam.status):  # warm both (imports, first parse)
            assert (await read()) == (await cam.status())
        zeep_ms: list[float] = []
        lean_ms: list[float] = []
        health_ms: list[float] = []
        for _ in range(args.reads):
            for path, out in ((via_zeep, zeep_ms), (cam.status, lean_ms), (cam.health, health_ms)):
                out.append(await _cpu_ms(path))
                await asyncio.sleep(args.gap_s)
    finally:
        await cam.close()
        stop.set()
        server.join(timeout=10)
    zeep, lean = median(zeep_ms), median(lean_ms)
    emit(
        {
            "bench": "onvif_status",
            "reads": args.reads,
            "gap_s": args.gap_s,
            "zeep_cpu_ms_per_read": zeep,
            "cpu_ms_per_read": lean,
            "health_cpu_ms_per_read": median(health_ms),
            "ratio": round(lean / zeep, 3),
            "zeep_mean_ms": round(statistics.fmean(zeep_ms), 3),
            "mean_ms": round(statistics.fmean(lean_ms), 3),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
