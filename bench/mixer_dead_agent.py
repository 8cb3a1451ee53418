"""SNMP mixers: do live agents' queries slow down while a dead agent is queried? One run.

Starts snmpsim on N endpoints, then per round queries every live mixer's health alone and again
in the same gather as a dead agent (timeout T). Prints medians and, last, one JSON line.
Run: .venv/bin/python bench/mixer_dead_agent.py [--live 8] [--rounds 5] [--timeout 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import time

from devices.secrets import Secret
from drivers.snmp.driver import SnmpMixer
from hil.sim.snmp_agent import SnmpAgent

OIDS = {"mute": "1.3.6.1.4.1.1536.1.3.1.1.2.{index}", "sensors": [1, 2], "interfaces": [1]}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def timed(mixer: SnmpMixer) -> float:
    t0 = time.perf_counter()
    with contextlib.suppress(Exception):  # the dead one
        await mixer.health()
    return time.perf_counter() - t0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    agent = SnmpAgent(
        endpoints=[("127.0.0.1", free_udp_port()) for _ in range(args.live)],
        community="bench",
        shared_state=True,
    )
    await agent.start()

    def mixer(name: str, port: int) -> SnmpMixer:
        return SnmpMixer(
            name,
            host="127.0.0.1",
            port=port,
            community=Secret("bench"),
            channels={"mic": 1},
            oids=OIDS,
            timeout_s=args.timeout,
        )

    live = [mixer(f"live{i}.mixer", p) for i, (_, p) in enumerate(agent.endpoints)]
    dead = mixer("dead.mixer", free_udp_port())
    alone: list[float] = []
    beside: list[float] = []
    dead_t: list[float] = []
    try:
        for m in [*live, dead]:
            await m.connect()
        await asyncio.gather(*(m.health() for m in live))
        for _ in range(args.rounds):
            alone.append(max(await asyncio.gather(*(timed(m) for m in live))))
            *times, d = await asyncio.gather(*(timed(m) for m in live), timed(dead))
            beside.append(max(times))
            dead_t.append(d)
    finally:
        for m in [*live, dead]:
            await m.close()
        await agent.stop()
    result = {
        "bench": "mixer_dead_agent",
        "live_agents": args.live,
        "rounds": args.rounds,
        "timeout_s": args.timeout,
        "live_alone_max_ms": round(statistics.median(alone) * 1000, 1),
        "live_beside_dead_max_ms": round(statistics.median(beside) * 1000, 1),
        "dead_agent_s": round(statistics.median(dead_t), 3),
    }
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
