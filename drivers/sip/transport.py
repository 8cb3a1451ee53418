"""Byte links for reachability checks: a connected UDP socket, a TCP stream, a bare connect."""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

from drivers.sip.codec import message_length


class UdpLink(asyncio.DatagramProtocol):
    """A UDP socket connected to one peer; datagrams and ICMP errors land in a queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | OSError] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> UdpLink:
        loop = asyncio.get_running_loop()
        link = cls()
        await loop.create_datagram_endpoint(lambda: link, remote_addr=(host, port))
        return link

    @property
    def local(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(exc if isinstance(exc, OSError) else OSError(str(exc)))

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data)

    async def recv(self) -> bytes:
        """The next datagram; raises the OSError (e.g. ConnectionRefusedError) ICMP reported."""
        item = await self.queue.get()
        if isinstance(item, OSError):
            raise item
        return item

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class TcpLink:
    """A TCP stream carrying SIP messages framed by Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._buf = b""

    @classmethod
    async def open(cls, host: str, port: int) -> TcpLink:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    @property
    def local(self) -> tuple[str, int]:
        host, port = self.writer.get_extra_info("sockname")[:2]
        return str(host), int(port)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv_message(self) -> bytes:
        """The next complete SIP message; ConnectionError if the peer closes first."""
        while True:
            size = message_length(self._buf)
            if size is not None:
                message, self._buf = self._buf[:size], self._buf[size:]
                return message
            chunk = await self.reader.read(4096)
            if not chunk:
                if self._buf:
                    return self._buf  # let the parser judge what we got
                raise ConnectionResetError("peer closed the connection without answering")
            self._buf += chunk

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()


async def tcp_connect(host: str, port: int) -> None:
    """Open and close a TCP connection (the H.323 call-signalling check)."""
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
