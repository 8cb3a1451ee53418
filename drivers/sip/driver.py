"""Codec reachability: SIP OPTIONS ping (UDP/TCP) and H.323 call-signalling connect.

`ping()` never raises for an unreachable or misbehaving peer: it says so in a Reachability.
`health()` follows the Device contract and raises when the codec is unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Literal

from devices.errors import DeviceTimeoutError, ProtocolError, TransportError
from devices.health import Health
from devices.interfaces import Codec, Reachability
from drivers.sip.codec import build_options, matches, parse_response
from drivers.sip.transport import TcpLink, UdpLink, tcp_connect


class _ReachabilityCodec(Codec):
    def __init__(self, name: str, *, host: str, port: int, timeout_s: float = 2.0) -> None:
        super().__init__(name)
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._log = logging.getLogger(f"mcu_control.device.{name}")

    async def health(self) -> Health:
        result = await self.ping()
        if not result.reachable:
            if "no answer" in result.detail:
                raise DeviceTimeoutError(result.detail, device=self.name, timeout_s=self.timeout_s)
            raise TransportError(result.detail, device=self.name)
        return Health.ok(result.detail, rtt_ms=result.rtt_ms, method=result.method)


class SipCodec(_ReachabilityCodec):
    """A SIP endpoint: any final response to OPTIONS means its SIP stack is alive."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int = 5060,
        transport: Literal["udp", "tcp"] = "udp",
        uri: str | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        super().__init__(name, host=host, port=port, timeout_s=timeout_s)
        self.transport = transport
        self.uri = uri or f"sip:{host}:{port}"

    @property
    def method(self) -> str:
        return f"sip-options-{self.transport}"

    async def ping(self) -> Reachability:
        """OPTIONS and wait for a final response; RTT is measured from the send."""
        try:
            async with asyncio.timeout(self.timeout_s):
                if self.transport == "udp":
                    status = await self._udp()
                else:
                    status = await self._tcp()
        except TimeoutError:
            return self._down(f"no answer to SIP OPTIONS within {self.timeout_s:g} s")
        except ProtocolError as exc:
            return self._down(f"answered with something that is not SIP: {exc.message}")
        except OSError as exc:
            return self._down(
                f"SIP {self.transport.upper()} {self.host}:{self.port}: {_os_detail(exc)}"
            )
        rtt, line = status
        self._log.debug("OPTIONS → %s in %.1f ms", line, rtt)
        return Reachability(True, round(rtt, 3), line, self.method)

    async def _udp(self) -> tuple[float, str]:
        link = await UdpLink.open(self.host, self.port)
        try:
            host, port = link.local
            request = build_options(self.uri, transport="udp", local_host=host, local_port=port)
            started = time.perf_counter()
            link.send(request.data)
            while True:
                response = parse_response(await link.recv())
                if matches(response, request) and response.final:
                    return (time.perf_counter() - started) * 1000, response.status_line
        finally:
            link.close()

    async def _tcp(self) -> tuple[float, str]:
        link = await TcpLink.open(self.host, self.port)
        try:
            host, port = link.local
            request = build_options(self.uri, transport="tcp", local_host=host, local_port=port)
            started = time.perf_counter()
            await link.send(request.data)
            while True:
                response = parse_response(await link.recv_message())
                if response.final:
                    return (time.perf_counter() - started) * 1000, response.status_line
        finally:
            await link.close()

    def _down(self, detail: str) -> Reachability:
        return Reachability(False, None, detail, self.method)


class H323Codec(_ReachabilityCodec):
    """An H.323 endpoint: a TCP connect to call signalling (1720) proves the stack listens."""

    def __init__(self, name: str, *, host: str, port: int = 1720, timeout_s: float = 2.0) -> None:
        super().__init__(name, host=host, port=port, timeout_s=timeout_s)

    async def ping(self) -> Reachability:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                await tcp_connect(self.host, self.port)
        except TimeoutError:
            return Reachability(
                False, None, f"no answer to TCP connect within {self.timeout_s:g} s", "h323-tcp"
            )
        except OSError as exc:
            return Reachability(
                False, None, f"H.323 {self.host}:{self.port}: {_os_detail(exc)}", "h323-tcp"
            )
        rtt = (time.perf_counter() - started) * 1000
        return Reachability(True, round(rtt, 3), f"TCP {self.port} accepted", "h323-tcp")


def _os_detail(exc: OSError) -> str:
    """A short reason a technician understands ("Connection refused"), not asyncio's wording."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    if exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__
