"""VISCA over RS-232: one camera on a serial line (device path or pyserial URL).

`serial_asyncio_fast.open_serial_connection(url=…)` accepts both: device paths go through
`serial.serial_for_url` (opened in the executor), and `socket://host:port` URLs are opened as a
plain asyncio TCP connection, so no pyserial object is shared across threads.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from devices.errors import DeviceTimeoutError, McuControlError, TransportError
from drivers.visca import codec
from drivers.visca.codec import Ack, Completion, OtherReply, ViscaDecodeError
from drivers.visca.transport import ViscaTransport

_READ_CHUNK = 64


@dataclass
class _Pending:
    """The one request waiting for its first reply (ACK, completion or error)."""

    kind: str  # "command" | "inquiry"
    body: bytes
    future: asyncio.Future[tuple[str, int | bytes]]


class ViscaSerialTransport(ViscaTransport):
    """VISCA to camera `address` over a serial line; ACK awaited before the next command."""

    def __init__(
        self,
        name: str,
        *,
        port: str,
        address: int = 1,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        timeout_s: float = 3.0,
    ) -> None:
        super().__init__(name, timeout_s=timeout_s)
        if not 1 <= address <= 7:
            raise ValueError(f"VISCA camera address {address} is not 1–7")
        self.port = port
        self.address = address
        self._serial_kwargs: dict[str, Any] = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
        }
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._sockets: dict[int, asyncio.Future[bytes]] = {}
        self._splitter = codec.PacketSplitter()
        self._closed_reason: str | None = None

    async def open(self) -> None:
        """Open the port; TransportError if it cannot be opened within the timeout."""
        if self._writer is not None:
            return
        import serial
        import serial_asyncio_fast

        try:
            async with asyncio.timeout(self.timeout_s):
                reader, writer = await serial_asyncio_fast.open_serial_connection(
                    url=self.port, **self._serial_kwargs
                )
        except TimeoutError:
            raise DeviceTimeoutError(
                f"serial port {self.port} did not open within {self.timeout_s:g} s",
                device=self.name,
                timeout_s=self.timeout_s,
            ) from None
        except (OSError, serial.SerialException, ValueError) as exc:
            raise TransportError(
                f"cannot open serial port {self.port}: {exc}",
                device=self.name,
                hint="check the port path or URL, permissions (dialout group) and that nothing else holds it",
            ) from None
        self._reader, self._writer = reader, writer
        self._closed_reason = None
        self._read_task = asyncio.create_task(self._read_loop(), name=f"visca-read:{self.name}")

    async def close(self) -> None:
        """Stop reading and close the port; pending requests fail with TransportError."""
        task, self._read_task = self._read_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
        self._fail_all(TransportError("serial link closed", device=self.name))

    async def inquiry(self, body: bytes) -> bytes:
        async with self._lock:
            kind, value = await self._send_and_wait("inquiry", body)
        if kind != "done" or not isinstance(value, bytes):
            raise self.protocol_error(
                f"inquiry {body.hex(' ')} was acknowledged instead of answered"
            )
        return value

    async def _command(self, body: bytes, completion_timeout_s: float | None) -> None:
        async with self._lock:
            kind, value = await self._send_and_wait("command", body)
        if kind == "done":
            return
        assert isinstance(value, int)
        socket = value
        done = self._sockets.get(socket)
        if completion_timeout_s is None or done is None:
            self._sockets.pop(socket, None)
            return
        try:
            async with asyncio.timeout(completion_timeout_s):
                await done
        except TimeoutError:
            raise self._completion_timeout(body, completion_timeout_s) from None
        finally:
            if self._sockets.get(socket) is done:
                del self._sockets[socket]

    async def _send_and_wait(self, kind: str, body: bytes) -> tuple[str, int | bytes]:
        if self._writer is None or self._closed_reason is not None:
            raise TransportError(
                f"serial link is not open ({self._closed_reason or 'not connected'})",
                device=self.name,
                hint="the camera or converter dropped the line; reconnect",
            )
        future: asyncio.Future[tuple[str, int | bytes]] = asyncio.get_running_loop().create_future()
        self._pending = _Pending(kind, body, future)
        data = codec.packet(self.address, body)
        self.log.debug("→ %s", data.hex(" "))
        try:
            self._writer.write(data)
            async with asyncio.timeout(self.timeout_s):
                await self._writer.drain()
                return await future
        except TimeoutError:
            what = "ACK" if kind == "command" else "inquiry reply"
            raise self._timeout(
                f"{what} to {body.hex(' ')}", self.timeout_s, may_have_applied=kind == "command"
            ) from None
        except OSError as exc:
            raise TransportError(f"serial write failed: {exc}", device=self.name) from None
        finally:
            self._pending = None

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                data = await self._reader.read(_READ_CHUNK)
                if not data:
                    self._closed_reason = "the other end closed the line"
                    break
                self.log.debug("← %s", data.hex(" "))
                try:
                    for pkt in self._splitter.feed(data):
                        self._dispatch(codec.parse_reply(pkt))
                except ViscaDecodeError as exc:
                    self._splitter.clear()
                    self._fail_all(self.protocol_error(str(exc)))
        except OSError as exc:
            self._closed_reason = f"read failed: {exc}"
        self._fail_all(TransportError(f"serial link lost: {self._closed_reason}", device=self.name))

    def _dispatch(self, reply: codec.Reply) -> None:
        if isinstance(reply, OtherReply) or (
            not isinstance(reply, OtherReply) and reply.sender != self.address
        ):
            self.log.debug("ignored packet not meant for us: %r", reply)
            return
        pending = self._pending
        if isinstance(reply, Ack):
            if pending is not None and pending.kind == "command" and not pending.future.done():
                self._sockets[reply.socket] = asyncio.get_running_loop().create_future()
                pending.future.set_result(("ack", reply.socket))
            return
        if isinstance(reply, Completion):
            waiter = self._sockets.get(reply.socket) if reply.socket else None
            if waiter is not None and not waiter.done():
                waiter.set_result(reply.data)
            elif pending is not None and not pending.future.done():
                pending.future.set_result(("done", reply.data))
            return
        if pending is not None and not pending.future.done():
            error = self._device_error(reply, pending.body)
            pending.future.set_exception(error)
            return
        waiter = self._sockets.get(reply.socket)
        if waiter is not None and not waiter.done():
            waiter.set_exception(self._device_error(reply, b""))

    def _fail_all(self, exc: McuControlError) -> None:
        pending = self._pending
        if pending is not None and not pending.future.done():
            pending.future.set_exception(exc)
        for fut in self._sockets.values():
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: nobody may be awaiting a dropped completion
        self._sockets.clear()
