"""TTP sessions over telnet (TCP 23) or a serial line (device path or pyserial URL).

A session is a one-shot object: it opens, carries commands one at a time (TTP has no request
ids, so a second command waits for the first reply), and once it fails or times out it is
closed for good; the driver opens a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from devices.errors import DeviceTimeoutError, McuControlError, ProtocolError, TransportError
from devices.interfaces import ConnectionState
from drivers.tesira.codec import BANNER, Err, LineSplitter, Ok, Publish, TelnetFilter, parse_line

PublishHandler = Callable[[Publish], None]
LostHandler = Callable[[McuControlError], None]


class TtpSession:
    """One TTP session on an open byte stream; subclasses say how the stream is opened."""

    #: wait for the welcome banner before the first command (telnet/SSH only)
    needs_banner = False
    #: answer Telnet option negotiation
    telnet = False
    #: what to check when the link cannot be opened
    open_hint = "check the link to the DSP"

    def __init__(
        self,
        name: str,
        *,
        timeout_s: float,
        on_publish: PublishHandler | None = None,
        on_lost: LostHandler | None = None,
    ) -> None:
        self.name = name
        self._on_lost = on_lost
        self.timeout_s = timeout_s
        self.state = ConnectionState.NEW
        self._on_publish = on_publish
        self._log = logging.getLogger(f"mcu_control.device.{name}")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._replies: asyncio.Queue[Ok | Err | McuControlError] = asyncio.Queue()
        self._banner = asyncio.Event()
        self._failure: McuControlError | None = None
        #: lines that were neither a reply nor the echo, since the current command was sent
        self._noise: list[str] = []
        self._sent = ""
        #: bytes read from the link so far (telnet negotiation included)
        self._received = 0

    @property
    def where(self) -> str:
        """The address, for messages."""
        raise NotImplementedError

    @property
    def alive(self) -> bool:
        """True while the session can carry commands."""
        return self.state is ConnectionState.CONNECTED

    async def open(self) -> None:
        """Connect and, for telnet, wait for the banner; raise TransportError/DeviceTimeoutError."""
        self.state = ConnectionState.CONNECTING
        try:
            async with asyncio.timeout(self.timeout_s):
                self._reader, self._writer = await self._open_stream()
        except TimeoutError:
            self.state = ConnectionState.FAILED
            raise DeviceTimeoutError(
                f"no connection to {self.where} within {self.timeout_s:g} s",
                device=self.name,
                hint="check that the DSP is powered and the address/port is right",
                timeout_s=self.timeout_s,
            ) from None
        except (OSError, ValueError) as exc:  # pyserial raises SerialException (an OSError)
            self.state = ConnectionState.FAILED
            raise TransportError(
                f"cannot open {self.where}: {_os_detail(exc)}",
                device=self.name,
                hint=self.open_hint,
            ) from None
        self._task = asyncio.create_task(self._read_loop(), name=f"ttp-reader:{self.name}")
        if self.needs_banner:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self._banner.wait()
            except TimeoutError:
                await self.close(ConnectionState.FAILED)
                raise self._failure or self._no_banner() from None
            if self._failure is not None:
                await self.close(ConnectionState.FAILED)
                raise self._failure
        self.state = ConnectionState.CONNECTED

    async def command(self, line: bytes) -> Ok | Err:
        """Send one command line and return its ``+OK``/``-ERR``; a timeout ends the session."""
        async with self._lock:
            if self.state is not ConnectionState.CONNECTED or self._writer is None:
                raise self._failure or TransportError(
                    f"TTP session to {self.where} is {self.state}", device=self.name
                )
            while not self._replies.empty():  # nothing unsolicited may answer this command
                self._replies.get_nowait()
            self._sent = line.decode("utf-8", "replace").strip()
            self._noise = []
            self._log.debug("> %s", self._sent)
            try:
                self._writer.write(line)
                async with asyncio.timeout(self.timeout_s):
                    await self._writer.drain()
                    reply = await self._replies.get()
            except TimeoutError:
                await self.close(ConnectionState.FAILED)
                applied = not _is_read(self._sent)
                if self._noise:  # not silent: it talks, but not TTP (wrong baud rate or port)
                    raise ProtocolError(
                        f"no TTP reply to {self._sent!r} within {self.timeout_s:g} s; the DSP sent "
                        f"{len(self._noise)} line(s) that are not TTP, e.g. {self._noise[-1][:60]!r}",
                        device=self.name,
                        hint="check the baud rate (serial) and that this port is the DSP's "
                        "TTP port",
                    ) from None
                hint = "the DSP is silent: check power, cable and that nothing else holds the port"
                if applied:
                    hint = (
                        "the command may still be applied; check with `mcu-control mixer "
                        f"status`. {hint[0].upper()}{hint[1:]}"
                    )
                raise DeviceTimeoutError(
                    f"no reply to {self._sent!r} within {self.timeout_s:g} s",
                    device=self.name,
                    hint=hint,
                    timeout_s=self.timeout_s,
                    may_have_applied=applied,
                ) from None
            except OSError as exc:
                await self.close(ConnectionState.FAILED)
                raise TransportError(
                    f"write to {self.where} failed: {exc}", device=self.name
                ) from None
            if isinstance(reply, McuControlError):
                raise reply
            return reply

    async def close(self, final: ConnectionState = ConnectionState.CLOSED) -> None:
        """Stop the reader and close the stream; safe to call twice."""
        self.state = final
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def _open_stream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        raise NotImplementedError

    def _no_banner(self) -> McuControlError:
        """Why no banner came: a frozen DSP (silence) is not a foreign service (other text)."""
        if self._received == 0:
            return DeviceTimeoutError(
                f"{self.where} accepted the connection but sent nothing within "
                f"{self.timeout_s:g} s (no telnet negotiation, no banner)",
                device=self.name,
                hint="the DSP looks frozen: power-cycle it (a TTP server negotiates telnet at "
                "once, even while busy)",
                timeout_s=self.timeout_s,
            )
        if self._noise:
            return ProtocolError(
                f"{self.where} answers but is not a Tesira Text Protocol server: it sent "
                f"{self._noise[0][:60]!r}",
                device=self.name,
                hint="check the port: TTP is telnet on TCP 23 (22 is SSH, 61451 is Biamp's "
                "software port)",
            )
        return DeviceTimeoutError(
            f"no TTP welcome banner from {self.where} within {self.timeout_s:g} s "
            "(telnet negotiation only)",
            device=self.name,
            hint="the port speaks telnet but no Tesira Text Protocol banner came: the DSP may "
            "still be starting, or this is another telnet service",
            timeout_s=self.timeout_s,
        )

    async def _read_loop(self) -> None:
        assert self._reader is not None
        splitter = LineSplitter()
        telnet = TelnetFilter() if self.telnet else None
        try:
            while True:
                data = await self._reader.read(4096)
                self._received += len(data)
                if not data:
                    self._fail(
                        TransportError(f"{self.where} closed the connection", device=self.name)
                    )
                    return
                if telnet is not None:
                    data, answer = telnet.feed(data)
                    if answer and self._writer is not None:
                        self._writer.write(answer)
                for line in splitter.feed(data):
                    self._handle_line(line)
        except asyncio.CancelledError:
            raise
        except McuControlError as exc:
            self._fail(exc)
        except OSError as exc:
            self._fail(TransportError(f"{self.where} failed: {exc}", device=self.name))

    def _handle_line(self, line: str) -> None:
        if BANNER in line:
            self._banner.set()
            return
        try:
            reply = parse_line(line)
        except ProtocolError as exc:
            self._log.warning("garbage from device: %s", exc)
            self._replies.put_nowait(
                ProtocolError(exc.message, device=self.name, hint="the DSP sent a malformed reply")
            )
            return
        if reply is None:  # echoed command, blank line or other chatter
            text = line.strip("\r\n\x00 ")
            if text and text != self._sent and len(self._noise) < 20:
                self._noise.append(text)
            return
        if isinstance(reply, Publish):
            if self._on_publish is not None:
                self._on_publish(reply)
            return
        self._log.debug("< %s", line)
        self._replies.put_nowait(reply)

    def _fail(self, exc: McuControlError) -> None:
        was_up = self.state is ConnectionState.CONNECTED
        self._failure = exc
        self.state = ConnectionState.FAILED
        if was_up and self._on_lost is not None:
            self._on_lost(exc)
        self._banner.set()
        self._replies.put_nowait(exc)
        if self._writer is not None:
            self._writer.close()


class TelnetSession(TtpSession):
    """TTP over telnet: refuse every option, wait for the banner."""

    needs_banner = True
    telnet = True
    open_hint = "check the DSP's address and that telnet is enabled on it (Tesira: off by default on newer firmware)"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int = 23,
        timeout_s: float,
        on_publish: PublishHandler | None = None,
        on_lost: LostHandler | None = None,
    ) -> None:
        super().__init__(name, timeout_s=timeout_s, on_publish=on_publish, on_lost=on_lost)
        self.host = host
        self.port = port

    @property
    def where(self) -> str:
        return f"telnet {self.host}:{self.port}"

    async def _open_stream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)


class SerialSession(TtpSession):
    """TTP over RS-232: a device path (/dev/ttyUSB0) or a pyserial URL (socket://host:port)."""

    open_hint = "check the serial port path (or the serial-over-IP converter) and that no other program holds it"

    def __init__(
        self,
        name: str,
        *,
        url: str,
        baudrate: int = 115200,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        timeout_s: float,
        on_publish: PublishHandler | None = None,
        on_lost: LostHandler | None = None,
    ) -> None:
        super().__init__(name, timeout_s=timeout_s, on_publish=on_publish, on_lost=on_lost)
        self.url = url
        self.baudrate = baudrate
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits

    @property
    def where(self) -> str:
        return f"serial {self.url}"

    async def _open_stream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        import serial_asyncio_fast

        reader: asyncio.StreamReader
        writer: asyncio.StreamWriter
        reader, writer = await serial_asyncio_fast.open_serial_connection(
            url=self.url,
            baudrate=self.baudrate,
            bytesize=self.bytesize,
            parity=self.parity,
            stopbits=self.stopbits,
        )
        return reader, writer


def _is_read(sent: str) -> bool:
    """True for a TTP `get` (nothing to apply): the verb follows the (maybe quoted) tag."""
    rest = sent.split('"', 2)[2] if sent.startswith('"') and sent.count('"') >= 2 else sent
    words = rest.split() if sent.startswith('"') else rest.split()[1:]
    return bool(words) and words[0] == "get"


def _os_detail(exc: BaseException) -> str:
    """The reason in a technician's words, not asyncio's "Connect call failed (…)"."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    errno = getattr(exc, "errno", None)
    if isinstance(errno, int) and errno:
        import os

        return os.strerror(errno)
    return str(exc) or type(exc).__name__
