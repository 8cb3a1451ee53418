"""MQTT feed: state change to subscriber latency, and the retained republish after a reconnect.

A mosquitto on a free port (tests/mqtt_support.py), the feed (MqttFeed) publishing a
StateStore of an N-point profile (default 1000), and a paho subscriber in this process.

1. Latency: `--changes` (10 000) point updates, paced at `--rate` per second, each with its
   number in `reason`; the time from `StateStore.update_point` to the subscriber's callback
   (one monotonic clock). Baseline: the same subscriber's latency for messages a bare paho
   client publishes (broker + client cost without the feed), measured in the same run.
2. Republish: the broker restarts (persistence off: it forgets everything); a fresh
   subscriber subscribes at once; measured from the feed's reconnect until that subscriber
   has seen every point topic (and, separately, from the broker's restart).

Prints the figures and, last, one JSON line. Targets: p99 ≤ 100 ms, republish ≤ 2 s.
Run: .venv/bin/python bench/mqtt.py [--points 1000] [--changes 10000] [--rate 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import benchlib

P99_TARGET_MS = 100.0
REPUBLISH_TARGET_S = 2.0


class Arrivals:
    """A paho subscriber noting when each numbered change (and each point topic) arrived."""

    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.times: dict[int, float] = {}
        self.topics: set[str] = set()  # every topic seen, retained or live
        self.subscribed = threading.Event()
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, 1)
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError("the subscriber did not subscribe")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        now = time.perf_counter()
        with self.lock:
            self.topics.add(msg.topic)
            try:
                reason = json.loads(msg.payload).get("reason", "")
            except (ValueError, AttributeError):
                return
            if isinstance(reason, str) and reason.startswith("bench "):
                self.times.setdefault(int(reason[6:]), now)


def percentiles(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 2), "p99_ms": round(q[98], 2), "max_ms": round(max(ms), 2)}


async def latency(
    store: Any, points: list[str], sub: Arrivals, n: int, rate: float
) -> dict[str, Any]:
    sent: dict[int, float] = {}
    interval = 1.0 / rate
    start = time.perf_counter()
    for k in range(n):
        target = start + k * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[k] = time.perf_counter()
        store.update_point(points[k % len(points)], reason=f"bench {k}")
    deadline = time.perf_counter() + 30
    while len(sub.times) < n and time.perf_counter() < deadline:  # noqa: ASYNC110 — paho thread
        await asyncio.sleep(0.05)
    with sub.lock:
        ms = [1000 * (sub.times[k] - sent[k]) for k in sent if k in sub.times]
    return {**percentiles(ms), "received": len(ms)}


def baseline(port: int, sub: Arrivals, n: int, rate: float, topic: str) -> dict[str, Any]:
    """The same path without the feed: a bare paho client publishing to the same subscriber."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    pub = mqtt.Client(CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    sent: dict[int, float] = {}
    start = time.perf_counter()
    offset = 10_000_000  # distinct numbers from the feed's
    for k in range(n):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent[offset + k] = time.perf_counter()
        pub.publish(topic, json.dumps({"reason": f"bench {offset + k}"}), qos=1)
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        with sub.lock:
            if all(k in sub.times for k in sent):
                break
        time.sleep(0.05)
    pub.disconnect()
    pub.loop_stop()
    with sub.lock:
        ms = [1000 * (sub.times[k] - sent[k]) for k in sent if k in sub.times]
    return percentiles(ms)


async def one_run(args: argparse.Namespace, base: Path, i: int) -> dict[str, Any]:
    from mqtt_support import Mosquitto

    from mcu_control.mqtt.feed import MqttFeed
    from mcu_control.state import StateStore
    from profiles import load_profile

    def mqtt_settings(data: dict[str, Any]) -> None:
        data["mqtt"] = {"keepalive_s": 15, "reconnect_max_s": 1}

    loaded = load_profile(
        benchlib.make_profile(base, args.points, tweak=mqtt_settings, name=f"m-{i}.yaml")
    )
    store = StateStore()
    store.seed(loaded.profile)
    broker = Mosquitto(base / f"broker-{i}")
    broker.start()
    feed = MqttFeed(loaded, store, url=broker.url())
    await feed.start()
    try:
        async with asyncio.timeout(20):
            await feed.wait_connected()
        prefix = feed.topics.prefix
        points = [p.id for p in loaded.profile.points]
        sub = Arrivals(broker.port, f"{prefix}/point/+")
        await asyncio.sleep(1.0)  # let the first retained publish settle
        try:
            lat = await latency(store, points, sub, args.changes, args.rate)
            bare = await asyncio.to_thread(
                baseline, broker.port, sub, args.changes, args.rate, f"{prefix}/point/bench"
            )
        finally:
            sub.close()
        # republish: the broker forgets everything; the feed reconnects and publishes it all
        connects = feed.connects
        broker.stop()
        broker.start()
        restarted = time.perf_counter()
        # subscribed before the feed is back (its reconnect backoff starts at 1 s), so every
        # republished topic is seen, live or retained
        fresh = await asyncio.to_thread(Arrivals, broker.port, f"{prefix}/point/+")
        try:
            async with asyncio.timeout(30):
                while feed.connects == connects or not feed.connected:  # noqa: ASYNC110 — no hook
                    await asyncio.sleep(0.002)
            reconnected = time.perf_counter()
            want = {f"{prefix}/point/{p}" for p in points}
            async with asyncio.timeout(60):
                while not want <= fresh.topics:  # noqa: ASYNC110 — filled by paho's thread
                    await asyncio.sleep(0.005)
            done = time.perf_counter()
        finally:
            fresh.close()
    finally:
        await feed.stop()
        broker.stop()
    return {
        **lat,
        "bare_p50_ms": bare["p50_ms"],
        "bare_p99_ms": bare["p99_ms"],
        "reconnect_s": reconnected - restarted,
        "republish_s": done - reconnected,
        "restart_to_all_s": done - restarted,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    benchlib.raise_nofile()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        for i in range(args.runs):
            runs.append(await one_run(args, Path(tmp), i))
            r = runs[-1]
            print(
                f"run {i + 1}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms (bare paho p99"
                f" {r['bare_p99_ms']} ms), {r['received']}/{args.changes} received;"
                f" republish {r['republish_s']:.3f} s after reconnect"
                f" ({r['restart_to_all_s']:.3f} s after the broker restart)",
                flush=True,
            )
    med = {k: benchlib.median([r[k] for r in runs]) for k in runs[0]}
    return {
        "bench": "mqtt",
        "points": args.points,
        "changes": args.changes,
        "rate_per_s": args.rate,
        "runs": args.runs,
        **med,
        "target_p99_ms": P99_TARGET_MS,
        "target_republish_s": REPUBLISH_TARGET_S,
        "ok": med["p99_ms"] <= P99_TARGET_MS
        and med["republish_s"] <= REPUBLISH_TARGET_S
        and min(r["received"] for r in runs) == args.changes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="changes per second")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with benchlib.quiet_logs():
        result = asyncio.run(run(args))
    benchlib.emit(result)


if __name__ == "__main__":
    main()
