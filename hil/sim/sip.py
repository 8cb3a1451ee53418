"""A SIP OPTIONS responder (UDP and TCP) and an H.323 call-signalling listener (docs/protocols/codecs.md §3–§4)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from typing import Literal

_REASONS = {
    200: "OK",
    404: "Not Found",
    405: "Method Not Allowed",
    486: "Busy Here",
    503: "Service Unavailable",
}
_ECHOED = ("via", "from", "to", "call-id", "cseq", "v", "f", "t", "i")


@dataclass
class SipFaults:
    """Switches, all off by default: `silent` never answers, `garbage` answers non-SIP bytes."""

    silent: bool = False
    garbage: bool = False
    delay_s: float = 0.0


class SipResponder:
    """Answers every OPTIONS with `status` (200 by default): ``await start()``, ``.port``, ``await stop()``."""

    def __init__(
        self,
        *,
        transport: Literal["udp", "tcp"] = "udp",
        host: str = "127.0.0.1",
        port: int = 0,
        status: int = 200,
        reason: str | None = None,
    ) -> None:
        self.transport = transport
        self.host = host
        self.port = port
        self.status = status
        self.reason = reason
        self.faults = SipFaults()
        self.requests = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.transport == "udp":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, self.port)
            )
            self._udp = transport
            self.port = transport.get_extra_info("sockname")[1]
        else:
            self._server = await asyncio.start_server(self._serve_tcp, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def answer(self, request: bytes) -> bytes | None:
        """The bytes to send back for one request (None: stay silent)."""
        self.requests += 1
        if self.faults.silent:
            return None
        if self.faults.garbage:
            return b"\x16\x03\x01 HTTP/1.1 418 I'm a teapot\r\n\r\n"
        text = request.decode("utf-8", "replace")
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        if not head or not head[0].startswith("OPTIONS "):
            return None
        reason = self.reason or _REASONS.get(self.status, "Unknown")
        lines = [f"SIP/2.0 {self.status} {reason}"]
        for line in head[1:]:
            name = line.split(":", 1)[0].strip().lower()
            if name in _ECHOED:
                tagged = name in ("to", "t") and ";tag=" not in line
                lines.append(line + ";tag=sim1" if tagged else line)
        if self.status == 200:
            lines.append("Allow: INVITE, ACK, CANCEL, OPTIONS, BYE")
            lines.append("Accept: application/sdp")
        lines.append("Server: hil-sim-sip")
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        buf = b""
        try:
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    return
                buf += chunk
                while b"\r\n\r\n" in buf:
                    head, _, rest = buf.partition(b"\r\n\r\n")
                    m = re.search(rb"(?im)^content-length\s*:\s*(\d+)", head)
                    body = int(m.group(1)) if m else 0
                    if len(rest) < body:
                        break
                    buf = rest[body:]
                    reply = self.answer(head + b"\r\n\r\n")
                    if self.faults.delay_s:
                        await asyncio.sleep(self.faults.delay_s)
                    if reply is not None:
                        writer.write(reply)
                        await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()
            self._tasks.discard(task)

    def _send_udp(self, reply: bytes, addr: tuple[str, int]) -> None:
        if self._udp is not None:
            self._udp.sendto(reply, addr)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, sim: SipResponder) -> None:
        self.sim = sim

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.sim.answer(data)
        if reply is None:
            return
        if self.sim.faults.delay_s:
            asyncio.get_running_loop().call_later(
                self.sim.faults.delay_s, self.sim._send_udp, reply, addr
            )
        else:
            self.sim._send_udp(reply, addr)


class H323Sim:
    """An H.323 endpoint's call-signalling port: accepts each TCP connection and closes it."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()
