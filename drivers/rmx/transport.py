"""One HTTP/1.1 keep-alive connection to an RMX: the XML API's login session lives on it.

An RMX keeps the login in its web server's per-TCP-connection state, not in the tokens
(docs/protocols/rmx.md §4–§7): a request on a new connection is anonymous. So this
transport owns exactly one socket, knows when it is new, and never opens a second one
behind the caller's back (a pooled client such as httpx would). HTTP framing is `h11`;
the socket is asyncio's. Bodies are never logged: LOGIN carries the password.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time

import h11

from devices.errors import (
    DeviceTimeoutError,
    ProtocolError,
    TransportError,
)
from devices.interfaces import ConnectionState
from devices.secrets import redact
from drivers.http import check_status

#: an answer larger than this is not an RMX answer
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class StaleConnectionError(TransportError):
    """A re-used idle connection was closed by the MCU before it answered a single byte."""


class RmxLink:
    """One TCP (optionally TLS) connection; POSTs are strictly one at a time (the caller locks)."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        tls: bool,
        path: str,
        timeout_s: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.name = name
        self.state = ConnectionState.NEW
        self._host = host
        self._port = port
        self._path = path
        self._tls = tls
        self._ssl = ssl_context
        self.timeout_s = timeout_s
        scheme = "https" if tls else "http"
        netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
        self.url = f"{scheme}://{netloc}:{port}{path}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
        self._exchanges = 0
        #: monotonic time of the last complete answer (or of the connect)
        self.last_used = time.monotonic()
        self._log = logging.getLogger(f"mcu_control.device.{name}")

    async def open(self) -> None:
        """Connect (TLS handshake included) within the deadline."""
        self.state = ConnectionState.CONNECTING
        try:
            async with asyncio.timeout(self.timeout_s):
                self._reader, self._writer = await asyncio.open_connection(
                    self._host,
                    self._port,
                    ssl=self._ssl if self._tls else None,
                    server_hostname=self._host if self._tls else None,
                )
        except TimeoutError:
            self.state = ConnectionState.FAILED
            raise DeviceTimeoutError(
                f"no connection to {self.url} within {self.timeout_s:g} s",
                device=self.name,
                hint="check the MCU is up and reachable, or raise timeout_s in the profile",
                timeout_s=self.timeout_s,
            ) from None
        except (OSError, ssl.SSLError) as exc:
            self.state = ConnectionState.FAILED
            reason = redact(_reason(exc))
            tls_problem = "CERTIFICATE" in reason.upper() or "SSL" in reason.upper()
            raise TransportError(
                f"cannot connect to {self.url}: {reason}",
                device=self.name,
                hint="set ca_file to the CA that signed the MCU's certificate (or verify_tls: false)"
                if tls_problem
                else "check the MCU's address, port, tls setting and that its web API is enabled",
            ) from None
        self.state = ConnectionState.CONNECTED
        self.last_used = time.monotonic()

    def usable(self, max_idle_s: float) -> bool:
        """Open, not closed by the peer, and idle for less than `max_idle_s`."""
        return (
            self.state is ConnectionState.CONNECTED
            and self._reader is not None
            and not self._reader.at_eof()
            and self._writer is not None
            and not self._writer.is_closing()
            and time.monotonic() - self.last_used < max_idle_s
        )

    async def post(self, body: bytes, *, what: str) -> bytes:
        """POST `body`; the 2xx answer body, or a named error (the link is then closed)."""
        if (
            self._reader is None
            or self._writer is None
            or self.state is not ConnectionState.CONNECTED
        ):
            raise TransportError(f"not connected to {self.url}", device=self.name)
        reused = self._exchanges > 0
        started = time.monotonic()
        received = 0
        sent = False
        self._log.debug("POST %s %s (%d bytes)", self._path, what, len(body))
        try:
            async with asyncio.timeout(self.timeout_s):
                self._writer.write(self._request_bytes(body))
                await self._writer.drain()
                sent = True
                status, reason, data, received = await self._read_answer()
        except TimeoutError:
            await self.close()
            raise DeviceTimeoutError(
                f"no answer to {what} within {self.timeout_s:g} s",
                device=self.name,
                hint="check the MCU is up and not overloaded, or raise timeout_s in the profile",
                timeout_s=self.timeout_s,
                may_have_applied=sent,
            ) from None
        except (h11.RemoteProtocolError, h11.LocalProtocolError) as exc:
            await self.close()
            raise ProtocolError(
                f"the answer to {what} from {self.url} is not HTTP: {redact(_reason(exc))}",
                device=self.name,
                hint="check that this port is the MCU's web API and the tls setting is right",
            ) from None
        except _ClosedError as exc:
            await self.close()
            if reused and exc.received == 0:
                raise StaleConnectionError(
                    f"connection to {self.url} closed by the MCU before answering {what}",
                    device=self.name,
                ) from None
            raise TransportError(
                f"connection to {self.url} dropped during {what}",
                device=self.name,
                hint="retry; if it persists check the network path and the MCU's load",
            ) from None
        except asyncio.CancelledError:
            self._abort()  # half an exchange on the socket: it cannot carry another one
            raise
        except (OSError, ssl.SSLError) as exc:
            await self.close()
            if reused and received == 0 and not sent:
                raise StaleConnectionError(
                    f"connection to {self.url} closed before {what}: {redact(_reason(exc))}",
                    device=self.name,
                ) from None
            raise TransportError(
                f"connection to {self.url} dropped during {what}: {redact(_reason(exc))}",
                device=self.name,
                hint="retry; if it persists check the network path and the MCU's load",
            ) from None
        self._exchanges += 1
        self.last_used = time.monotonic()
        self._log.debug(
            "%s -> HTTP %d (%d bytes, %.1f ms)",
            what,
            status,
            len(data),
            (self.last_used - started) * 1000,
        )
        if self._h11.our_state is h11.MUST_CLOSE or self._h11.their_state is h11.MUST_CLOSE:
            await self.close()  # the server said Connection: close; the session ends with it
        else:
            self._h11.start_next_cycle()
        check_status(status, reason, device=self.name, url=self.url, what=what)
        return data

    async def close(self) -> None:
        """Close the socket (the MCU forgets the login with it); safe to call twice."""
        writer, self._writer = self._writer, None
        self._reader = None
        if self.state is not ConnectionState.FAILED:
            self.state = ConnectionState.CLOSED
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (TimeoutError, OSError, ssl.SSLError):
                pass

    # ------------------------------------------------------------------ helpers

    def _abort(self) -> None:
        """Drop the socket at once, without waiting (safe inside a cancelled task)."""
        writer, self._writer = self._writer, None
        self._reader = None
        self.state = ConnectionState.CLOSED
        if writer is not None:
            writer.transport.abort()

    def _request_bytes(self, body: bytes) -> bytes:
        host = f"{self._host}:{self._port}"
        out = self._h11.send(
            h11.Request(
                method="POST",
                target=self._path,
                headers=[
                    ("Host", host),
                    ("Content-Type", "application/xml; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("Connection", "keep-alive"),
                ],
            )
        )
        out = (out or b"") + (self._h11.send(h11.Data(data=body)) or b"")
        return out + (self._h11.send(h11.EndOfMessage()) or b"")

    async def _read_answer(self) -> tuple[int, str, bytes, int]:
        assert self._reader is not None
        status, reason = 0, ""
        parts: list[bytes] = []
        size = received = 0
        eof = False
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError:
                if eof:  # closed mid-answer: a drop, not garbage
                    raise _ClosedError(received) from None
                raise
            if event is h11.NEED_DATA:
                chunk = await self._reader.read(65536)
                received += len(chunk)
                if not chunk:
                    if received == 0:
                        raise _ClosedError(0)
                    eof = True
                self._h11.receive_data(chunk)
                continue
            if isinstance(event, h11.Response):
                status, reason = event.status_code, event.reason.decode("latin-1", "replace")
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_ANSWER_BYTES:
                    raise h11.RemoteProtocolError("answer larger than 16 MiB")
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return status, reason, b"".join(parts), received
            elif isinstance(event, h11.ConnectionClosed):
                raise _ClosedError(received)


class _ClosedError(Exception):
    def __init__(self, received: int) -> None:
        super().__init__("closed")
        self.received = received


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
