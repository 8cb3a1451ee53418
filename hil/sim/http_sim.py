"""An asyncio HTTP server base for the XML-over-HTTP simulators, with switchable faults."""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
from dataclasses import dataclass
from typing import Self

from aiohttp import web

_log = logging.getLogger("mcu_control.sim.http")


@dataclass
class HttpFaults:
    """Fault switches a test (or a scenario file) flips on and off; all off by default."""

    #: answer only after this many seconds (0: at once)
    delay_s: float = 0.0
    #: close the socket without any reply
    drop: bool = False
    #: answer HTTP 500 Internal Server Error
    http_500: bool = False
    #: answer 200 with a body that is not well-formed XML
    malformed: bool = False

    def clear(self) -> None:
        """Switch every fault off."""
        self.delay_s = 0.0
        self.drop = self.http_500 = self.malformed = False

    def set(self, **fields: float | bool) -> None:
        """Set faults from plain data, e.g. `set(delay_s=2)`; unknown names raise KeyError."""
        for key, value in fields.items():
            if key not in {"delay_s", "drop", "http_500", "malformed"}:
                raise KeyError(f"unknown fault {key!r}")
            setattr(self, key, value)


MALFORMED_BODY = b"<?xml version='1.0'?><methodResponse><params><param><value><struct"


class XmlHttpSimulator:
    """Binds 127.0.0.1 (port 0 allowed), POSTs to `paths` go to `handle`; GET answers 405."""

    paths: tuple[str, ...] = ("/",)

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.port = port
        #: serve HTTPS with this context (None: plain HTTP)
        self.ssl_context = ssl_context
        self.faults = HttpFaults()
        #: requests seen per method/action name, for tests that check paging really happened
        self.calls: collections.Counter[str] = collections.Counter()
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Start serving; afterwards `port` holds the bound port."""
        app = web.Application()
        for path in self.paths:
            app.router.add_route("*", path, self._serve)
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        self._stopping.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def handle(self, body: bytes) -> bytes:
        """Answer one request body (subclasses implement the protocol)."""
        raise NotImplementedError

    async def _injected_fault(
        self, request: web.Request, content_type: str
    ) -> web.StreamResponse | None:
        """The answer the configured faults give instead of the real one (None: no fault).

        Delays first; `drop` aborts the socket; `http_500` and `malformed` answer so.
        """
        if self.faults.delay_s > 0:
            try:
                async with asyncio.timeout(self.faults.delay_s):
                    await self._stopping.wait()
            except TimeoutError:
                pass
        if self.faults.drop:
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable  # never written: the socket is gone
        if self.faults.http_500:
            return web.Response(status=500, text="Internal Server Error\n")
        if self.faults.malformed:
            return web.Response(body=MALFORMED_BODY, content_type=content_type)
        return None

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(status=405, text="POST only\n")
        body = await request.read()
        fault = await self._injected_fault(request, "text/xml")
        if fault is not None:
            return fault
        try:
            reply = self.handle(body)
        except Exception:
            _log.exception("simulator failed on a request")
            return web.Response(status=500, text="simulator error\n")
        return web.Response(body=reply, content_type="text/xml", charset="utf-8")
