"""An embedded demo broker (amqtt, pure Python) for when the profile names no broker.

amqtt 0.12 speaks MQTT 3.1.1 only: a feed talking to it must be created with
`protocol="3.1.1"` (`EmbeddedBroker.protocol`). It is a demo convenience, not a production
broker: no persistence, no ACL, anonymous access on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

log = logging.getLogger("mcu_control.mqtt.embedded")


class EmbeddedBroker:
    """An in-process MQTT 3.1.1 broker on `host:port` (port 0: the kernel picks one)."""

    protocol: Literal["3.1.1"] = "3.1.1"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; `.port` is the bound port afterwards."""
        try:
            from amqtt.broker import Broker
        except ImportError as exc:
            from devices.errors import ConfigError

            raise ConfigError(
                "the embedded demo broker needs amqtt", hint="pip install 'mcu-control[demo]'"
            ) from exc
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        for name in ("amqtt", "transitions"):  # per-packet INFO chatter
            logging.getLogger(name).setLevel(logging.WARNING)
        self._broker = Broker(config)
        await self._broker.start()
        server = self._broker._servers["default"].instance  # amqtt exposes no bound-port API
        self.port = int(server.sockets[0].getsockname()[1])
        log.info("embedded MQTT 3.1.1 broker listening on %s", self.url)

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
            # amqtt's shutdown leaves its per-client and broadcast tasks behind; end them here
            mine = [
                t for t in asyncio.all_tasks() if _is_amqtt(t) and t is not asyncio.current_task()
            ]
            for task in mine:
                task.cancel()
            await asyncio.gather(*mine, return_exceptions=True)


def _is_amqtt(task: asyncio.Task[object]) -> bool:
    coro = task.get_coro()
    module = getattr(getattr(coro, "cr_code", None), "co_filename", "")
    return "/amqtt/" in module
