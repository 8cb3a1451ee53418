"""HTTP(S) transport shared by the XML-over-HTTP drivers (Codian XML-RPC, Polycom RMX XML).

Bytes in, bytes out: one POST per call, a hard deadline per call, TLS with a configurable CA
file, connection reuse through one aiohttp session per device (aiohttp: ~0.4 ms of CPU per
POST where httpx took ~2 ms; the call supervisor lists conferences every few seconds). Bodies
are never logged: they carry the password (Codian) or the login (RMX).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time

import aiohttp

from devices.errors import (
    AuthenticationError,
    DeviceError,
    DeviceTimeoutError,
    ProtocolError,
    TransportError,
)
from devices.secrets import redact

#: concurrent requests to one device (an MCU's web API serves a handful of connections)
MAX_CONNECTIONS = 8
#: an idle connection is kept this long, so reads a few seconds apart reuse it
KEEPALIVE_S = 30.0


class HttpTransport:
    """POSTs request bodies to one URL of one device; maps every failure onto the error tree."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int | None,
        tls: bool,
        path: str,
        timeout_s: float,
        content_type: str = "text/xml; charset=utf-8",
        ca_file: str | None = None,
        verify_tls: bool = True,
    ) -> None:
        self.name = name
        scheme = "https" if tls else "http"
        netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
        self.url = f"{scheme}://{netloc}{f':{port}' if port else ''}{path}"
        self.path = path
        self.timeout_s = timeout_s
        self._headers = {"Content-Type": content_type, "Accept-Charset": "utf-8"}
        self._ssl: ssl.SSLContext | bool = False  # False: no certificate check (or plain HTTP)
        if tls and verify_tls:
            self._ssl = ssl.create_default_context(cafile=ca_file)
        self._session: aiohttp.ClientSession | None = None
        # Requests beyond the pool wait here, in the order they came.
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._log = logging.getLogger(f"mcu_control.device.{name}")

    async def post(self, body: bytes, *, what: str) -> bytes:
        """POST `body`; return the 2xx response body or raise a named, redacted error."""
        session = self._ensure_session()
        started = time.monotonic()
        self._log.debug("POST %s %s (%d bytes)", self.path, what, len(body))
        try:
            async with (
                asyncio.timeout(self.timeout_s),
                self._slots,
                session.post(
                    self.url, data=body, headers=self._headers, allow_redirects=False
                ) as response,
            ):
                status, reason = response.status, response.reason or ""
                content = await response.read()
        except TimeoutError:  # ours, or aiohttp's (its timeouts are TimeoutErrors too)
            raise DeviceTimeoutError(
                f"no answer to {what} within {self.timeout_s:g} s",
                device=self.name,
                hint="check the MCU is up and not overloaded, or raise timeout_s in the profile",
                timeout_s=self.timeout_s,
            ) from None
        except aiohttp.ClientConnectorError as exc:
            reason = redact(_reason(exc))
            tls_problem = isinstance(exc, aiohttp.ClientSSLError) or "SSL" in reason.upper()
            raise TransportError(
                f"cannot connect to {self.url}: {reason}",
                device=self.name,
                hint="set ca_file to the CA that signed the MCU's certificate (or verify_tls: false)"
                if tls_problem
                else "check the MCU's address, port, tls setting and that its web API is enabled",
            ) from None
        except aiohttp.ClientResponseError as exc:  # it answered, but not in HTTP: not a drop
            raise ProtocolError(
                f"the answer to {what} from {self.url} is not HTTP: {redact(_reason(exc))}",
                device=self.name,
                hint="check that this port is the MCU's web API and the tls setting is right",
            ) from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise TransportError(
                f"connection to {self.url} dropped during {what}: {redact(_reason(exc))}",
                device=self.name,
                hint="retry; if it persists check the network path and the MCU's load",
            ) from None
        except aiohttp.ClientError as exc:
            raise TransportError(
                f"HTTP failure talking to {self.url} during {what}: {redact(_reason(exc))}",
                device=self.name,
            ) from None
        elapsed_ms = (time.monotonic() - started) * 1000
        self._log.debug("%s -> HTTP %d (%d bytes, %.1f ms)", what, status, len(content), elapsed_ms)
        check_status(status, reason, device=self.name, url=self.url, what=what)
        return content

    async def close(self) -> None:
        """Close pooled connections; safe to call twice."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    ssl=self._ssl,
                    limit=MAX_CONNECTIONS,
                    keepalive_timeout=KEEPALIVE_S,
                ),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                trust_env=False,
            )
        return self._session


def check_status(status: int, reason: str, *, device: str, url: str, what: str) -> None:
    """An MCU's HTTP answer that is not 2xx, as the error it means (401/403: credentials)."""
    if status in (401, 403):
        raise AuthenticationError(
            f"HTTP {status} {reason} for {what}",
            device=device,
            hint="check the user name and password in the profile",
            code=f"http-{status}",
        )
    if not 200 <= status < 300:
        raise DeviceError(
            f"HTTP {status} {reason} from {url} during {what}",
            device=device,
            hint="the MCU's web service failed; check its event log and retry",
            code=f"http-{status}",
        )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
