"""`python -m mcu_control.mqtt`: seed a store from a profile and run the feed until signalled.

The stand-alone feed process used by the tests (kill -9 → last will) and for panel demos;
the daemon runs the same MqttFeed in its own loop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from devices.errors import McuControlError
from devices.secrets import install_log_redaction


async def _main(args: argparse.Namespace) -> int:
    from mcu_control.mqtt.embedded import EmbeddedBroker
    from mcu_control.mqtt.feed import MqttFeed
    from mcu_control.state import StateStore
    from profiles.loader import default_profile_path, load_profile

    loaded = load_profile(args.profile or default_profile_path())
    store = StateStore()
    store.seed(loaded.profile)
    broker: EmbeddedBroker | None = None
    url = args.mqtt_url
    protocol = None
    if args.embedded:
        broker = EmbeddedBroker(port=args.embedded_port)
        await broker.start()
        url, protocol = broker.url, broker.protocol
    feed = MqttFeed(loaded, store, url=url, protocol=protocol)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await feed.start()
    try:
        async with asyncio.timeout(args.connect_timeout):
            await feed.wait_connected()
        print(f"connected {feed.topics.prefix}", flush=True)  # noqa: T201 — the readiness line
    except TimeoutError:
        print("not connected yet; retrying in the background", file=sys.stderr, flush=True)  # noqa: T201
    await stop.wait()
    await feed.stop()
    if broker is not None:
        await broker.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcu_control.mqtt", description=__doc__)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--mqtt-url", default=None, help="overrides the profile and the env")
    parser.add_argument("--embedded", action="store_true", help="start the demo broker")
    parser.add_argument("--embedded-port", type=int, default=1883)
    parser.add_argument("--connect-timeout", type=float, default=10.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    install_log_redaction()
    try:
        return asyncio.run(_main(args))
    except McuControlError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 3


if __name__ == "__main__":
    sys.exit(main())
