"""VISCA over IP: UDP datagrams with the 8-byte header; replies matched by sequence number.

UDP loses datagrams, so a request without a reply is resent with the *same* sequence
number every `resend_after_s` until its timeout; the camera recognises the repeat and
answers again instead of executing twice.
"""

from __future__ import annotations

import asyncio

from devices.errors import McuControlError, ProtocolError, TransportError
from drivers.visca import codec
from drivers.visca.codec import Ack, Completion, ErrorReply, PayloadType, ViscaDecodeError
from drivers.visca.transport import ViscaTransport

#: inside VISCA over IP the addresses are fixed: controller sends 81 …, camera answers 90 …
IP_ADDRESS = 1

_Item = codec.Reply | bytes | McuControlError  # bytes: a control reply payload


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, owner: ViscaIpTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.owner._received(data)

    def error_received(self, exc: Exception) -> None:
        self.owner._broadcast(
            TransportError(f"UDP error: {exc}", device=self.owner.name, hint="is the camera on?")
        )


class ViscaIpTransport(ViscaTransport):
    """VISCA-over-IP client for one camera (UDP, default port 52381)."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int = 52381,
        timeout_s: float = 3.0,
        resend_after_s: float = 0.5,
    ) -> None:
        super().__init__(name, timeout_s=timeout_s)
        self.host = host
        self.port = port
        self.resend_after_s = resend_after_s
        self._transport: asyncio.DatagramTransport | None = None
        self._seq = 0
        self._waiters: dict[int, asyncio.Queue[_Item]] = {}

    @property
    def sequence(self) -> int:
        """The sequence number of the last message sent."""
        return self._seq

    async def open(self) -> None:
        """Create the UDP endpoint and send control RESET (sequence number back to 0)."""
        if self._transport is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Endpoint(self), remote_addr=(self.host, self.port)
            )
        except OSError as exc:
            raise TransportError(
                f"cannot open UDP to {self.host}:{self.port}: {exc}", device=self.name
            ) from None
        self._transport = transport
        try:
            reply = await self._exchange(PayloadType.CONTROL, 0, codec.CONTROL_RESET, "RESET reply")
        except BaseException:
            await self.close()
            raise
        if reply != codec.CONTROL_RESET:
            await self.close()
            raise self.protocol_error(f"control RESET answered {reply!r}")
        self._seq = 0

    async def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        self._broadcast(TransportError("VISCA-IP link closed", device=self.name))

    async def inquiry(self, body: bytes) -> bytes:
        reply = await self._exchange(
            PayloadType.INQUIRY, self._next_seq(), codec.packet(IP_ADDRESS, body), "inquiry reply"
        )
        if isinstance(reply, Completion):
            return reply.data
        if isinstance(reply, ErrorReply):
            raise self._device_error(reply, body)
        raise self.protocol_error(f"inquiry {body.hex(' ')} answered with {reply!r}")

    async def _command(self, body: bytes, completion_timeout_s: float | None) -> None:
        seq = self._next_seq()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._waiters[seq] = queue
        try:
            first = await self._exchange(
                PayloadType.COMMAND, seq, codec.packet(IP_ADDRESS, body), "ACK", queue=queue
            )
            if isinstance(first, ErrorReply):
                raise self._device_error(first, body)
            if isinstance(first, Completion) or completion_timeout_s is None:
                return
            try:
                async with asyncio.timeout(completion_timeout_s):
                    while True:
                        item = self._check(await queue.get())
                        if isinstance(item, Completion):
                            return
                        if isinstance(item, ErrorReply):
                            raise self._device_error(item, body)
                        # a repeated ACK (answer to a resend) is expected; skip it
            except TimeoutError:
                raise self._completion_timeout(body, completion_timeout_s) from None
        finally:
            self._waiters.pop(seq, None)

    async def _exchange(
        self,
        ptype: int,
        seq: int,
        payload: bytes,
        what: str,
        *,
        queue: asyncio.Queue[_Item] | None = None,
    ) -> codec.Reply | bytes:
        """Send and resend the same datagram until a first reply arrives or the timeout ends."""
        own = queue is None
        if queue is None:
            queue = asyncio.Queue()
            self._waiters[seq] = queue
        datagram = codec.ip_datagram(ptype, seq, payload)
        try:
            async with asyncio.timeout(self.timeout_s):
                attempt = 0
                while True:
                    if self._transport is None:
                        raise TransportError("VISCA-IP link is not open", device=self.name)
                    if attempt:
                        self.log.info("no reply to sequence %d; resending", seq)
                    self.log.debug("→ %s", datagram.hex(" "))
                    self._transport.sendto(datagram)
                    attempt += 1
                    try:
                        async with asyncio.timeout(self.resend_after_s):
                            return self._check(await queue.get())
                    except TimeoutError:
                        continue
        except TimeoutError:
            raise self._timeout(
                f"{what} to sequence {seq}",
                self.timeout_s,
                may_have_applied=ptype == PayloadType.COMMAND,
            ) from None
        finally:
            if own:
                self._waiters.pop(seq, None)

    def _check(self, item: _Item) -> codec.Reply | bytes:
        if isinstance(item, McuControlError):
            raise item
        return item

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def _received(self, data: bytes) -> None:
        self.log.debug("← %s", data.hex(" "))
        try:
            seq, item = self._decode(data)
        except ViscaDecodeError as exc:
            self._broadcast(self.protocol_error(str(exc)))
            return
        queue = self._waiters.get(seq)
        if queue is None:
            self.log.debug("late reply for sequence %d ignored", seq)
            return
        queue.put_nowait(item)

    def _decode(self, data: bytes) -> tuple[int, _Item]:
        ptype, seq, payload = codec.parse_ip_datagram(data)
        if ptype == PayloadType.CONTROL_REPLY:
            if payload[:1] == b"\x0f":
                kind = "sequence-number" if payload == b"\x0f\x01" else "message-type"
                return seq, ProtocolError(f"camera reports a {kind} abnormality", device=self.name)
            return seq, payload
        if ptype != PayloadType.REPLY:
            raise ViscaDecodeError(f"unexpected payload type 0x{ptype:04X} from the camera")
        reply = codec.parse_reply(payload)
        if isinstance(reply, Ack | Completion | ErrorReply) and reply.sender != IP_ADDRESS:
            raise ViscaDecodeError(f"reply from address {reply.sender}, expected 1")
        return seq, reply

    def _broadcast(self, exc: McuControlError) -> None:
        for queue in self._waiters.values():
            queue.put_nowait(exc)
