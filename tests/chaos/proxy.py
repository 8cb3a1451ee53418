"""A fault-injecting TCP/UDP proxy that sits between a driver and its simulator.

The proxy listens where the profile says the device is and forwards to the simulator,
which the test moved to another port. `mode` decides what happens to the bytes, at any
moment, including on connections already open (that is how a half-open link is made):

- ``pass``: forward both ways;
- ``blackhole``: read and discard; TCP connections stay open (silence / half-open link);
- ``garbage``: answer every request with bytes of no protocol;
- ``drop``: TCP: close the client's connection as soon as a request arrives;
- ``delay``: forward, but hold every answer ``delay_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, Literal, cast

Mode = Literal["pass", "blackhole", "garbage", "drop", "delay"]
JUNK = b"\x13\x37\x00\xffNOT-A-PROTOCOL\r\n\x1b[2J\xfe\xfd\r\n"


class FaultProxy:
    """`await start()` binds 127.0.0.1:`port` (0: any); `await stop()` releases it."""

    def __init__(self, kind: Literal["tcp", "udp"], target_port: int, port: int = 0) -> None:
        self.kind = kind
        self.target_port = target_port
        self.port = port
        self.mode: Mode = "pass"
        self.delay_s = 0.0
        #: TCP connections accepted so far (a client that keeps its connection opens one)
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self.kind == "tcp":
            self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]
        else:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpFront(self), local_addr=("127.0.0.1", self.port)
            )
            self._udp = transport
            self.port = transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        """Stop listening and cut every open connection (the peer sees a reset)."""
        if self._server is not None:
            self._server.close()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await self._server.wait_closed()
            self._server = None

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ TCP

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        up_writer: asyncio.StreamWriter | None = None
        try:
            if self.mode == "pass" or self.mode == "delay":
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
                self._writers.add(up_writer)
                back = asyncio.get_running_loop().create_task(
                    self._pump(up_reader, writer, answers=True)
                )
                self._tasks.add(back)
                back.add_done_callback(self._tasks.discard)
                await self._pump(reader, up_writer, answers=False, reply=writer)
                back.cancel()
            else:
                await self._pump(reader, None, answers=False, reply=writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    self._writers.discard(w)
                    w.transport.abort()

    async def _pump(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter | None,
        *,
        answers: bool,
        reply: asyncio.StreamWriter | None = None,
    ) -> None:
        while chunk := await src.read(65536):
            mode = self.mode
            if mode == "blackhole":
                continue
            if mode == "drop":
                for w in (dst, reply):
                    if w is not None:
                        w.transport.abort()
                return
            if mode == "garbage":
                target = dst if answers else reply
                if target is not None:
                    target.write(JUNK)
                continue
            if mode == "delay" and answers:
                await asyncio.sleep(self.delay_s)
            if dst is None:
                continue
            dst.write(chunk)
            await dst.drain()


class _UdpFront(asyncio.DatagramProtocol):
    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.transport: asyncio.DatagramTransport | None = None
        self.upstream: dict[tuple[str, int], asyncio.DatagramTransport] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        for up in self.upstream.values():
            up.close()
        self.upstream.clear()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        mode = self.proxy.mode
        if mode in ("blackhole", "drop"):
            return
        if mode == "garbage":
            assert self.transport is not None
            self.transport.sendto(JUNK, addr)
            return
        self.proxy.spawn(self._forward(data, addr))

    async def _forward(self, data: bytes, addr: tuple[str, int]) -> None:
        up = self.upstream.get(addr)
        if up is None or up.is_closing():
            loop = asyncio.get_running_loop()
            up, _ = await loop.create_datagram_endpoint(
                lambda: _UdpBack(self, addr), remote_addr=("127.0.0.1", self.proxy.target_port)
            )
            self.upstream[addr] = up
        up.sendto(data)

    def answer(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.proxy.mode == "delay":
            self.proxy.spawn(self._later(data, addr))
        elif self.proxy.mode == "pass" and self.transport is not None:
            self.transport.sendto(data, addr)

    async def _later(self, data: bytes, addr: tuple[str, int]) -> None:
        await asyncio.sleep(self.proxy.delay_s)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)


class _UdpBack(asyncio.DatagramProtocol):
    def __init__(self, front: _UdpFront, client: tuple[str, int]) -> None:
        self.front = front
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.front.answer(data, self.client)

    def error_received(self, exc: Exception) -> None:
        pass
