"""VISCA camera simulators: serial (TCP for pyserial `socket://` URLs, and a real pty) and IP (UDP).

Written from docs/protocols/visca.md, not from our driver. One `ViscaEngine` holds the camera
(motion, presets, power, two command sockets) and answers packets; the servers only move
bytes. Presets are given in the generic space (pan/tilt −1…1, zoom 0…1) like every simulator;
device units come from the ranges (piecewise linear around 0, see docs/cameras.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import tty
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from hil.sim.ptz_motion import PtzMotion

log = logging.getLogger("hil.sim.visca")

Send = Callable[[bytes], None]
PresetTable = Mapping[int, Sequence[float]] | Mapping[str, Sequence[float]]

GARBAGE = b"\x13\x37garbage\x00\x01\xff"


@dataclass
class ViscaFaults:
    """Switches a test (or a scenario file) flips to make the camera misbehave."""

    no_reply: bool = False  # swallow everything
    garbage: bool = False  # answer every packet with bytes that are not VISCA
    buffer_full: bool = False  # answer every command with `90 60 03 FF`
    buffer_full_next: int = 0  # answer the next N commands with `90 60 03 FF`
    drop_next_replies: int = 0  # IP: drop the next N reply datagrams (a lossy network)
    power_off: bool = False  # standby: moves are "not executable"

    def update(self, values: Mapping[str, Any]) -> None:
        """Set switches from plain data (a scenario file)."""
        for key, value in values.items():
            if not hasattr(self, key):
                raise KeyError(f"unknown VISCA fault {key!r}")
            setattr(self, key, value)


@dataclass(frozen=True)
class ViscaSimRanges:
    pan_min: int = -2448
    pan_max: int = 2448
    tilt_min: int = -432
    tilt_max: int = 1296
    zoom_max: int = 16384
    pan_speed_max: int = 0x18
    tilt_speed_max: int = 0x14
    preset_max: int = 255


@dataclass
class _Socket:
    send: Send | None = None  # where the completion goes
    handle: asyncio.TimerHandle | None = None
    axes: frozenset[str] = field(default_factory=frozenset)


class ViscaEngine:
    """The camera behind any VISCA transport: answers one packet at a time."""

    def __init__(
        self,
        *,
        address: int = 1,
        presets: PresetTable | None = None,
        move_time_s: float = 0.3,
        ranges: ViscaSimRanges | None = None,
        vendor_id: int = 0x0001,
        model_id: int = 0x0519,
        rom_revision: int = 0x0100,
        faults: ViscaFaults | None = None,
    ) -> None:
        self.address = address
        self.ranges = ranges or ViscaSimRanges()
        self.motion = PtzMotion(move_time_s=move_time_s)
        self.presets: dict[int, tuple[float, float, float]] = {
            int(k): (float(v[0]), float(v[1]), float(v[2])) for k, v in (presets or {}).items()
        }
        self.version = (vendor_id, model_id, rom_revision)
        self.faults = faults or ViscaFaults()
        self.powered = True
        self.last_preset = 0
        self.sockets: dict[int, _Socket] = {1: _Socket(), 2: _Socket()}
        #: every command body executed, for tests ("executed once despite a resend")
        self.executed: list[bytes] = []

    @property
    def is_on(self) -> bool:
        return self.powered and not self.faults.power_off

    @property
    def reply_header(self) -> int:
        return (self.address + 8) << 4

    def handle(self, pkt: bytes, send: Send) -> None:
        """Answer one complete packet (header … FF) through `send`."""
        if self.faults.no_reply:
            return
        if self.faults.garbage:
            send(GARBAGE)
            return
        header, body = pkt[0], pkt[1:-1]
        if header == 0x88:
            self._broadcast(body, send)
            return
        if header & 0x0F != self.address or header & 0xF0 != 0x80 or not body:
            return  # addressed to another camera in the chain
        y0 = self.reply_header
        if body[0] == 0x09:
            data = self._inquiry(body)
            send(
                bytes([y0, 0x50, *data, 0xFF])
                if data is not None
                else bytes([y0, 0x60, 0x02, 0xFF])
            )
            return
        if body[0] & 0xF0 == 0x20:
            self._cancel(body[0] & 0x0F, send)
            return
        if body[0] != 0x01:
            send(bytes([y0, 0x60, 0x02, 0xFF]))
            return
        if body == b"\x01\x00\x01":  # IF_Clear: completion on socket 0, no ACK
            self._clear_sockets()
            send(bytes([y0, 0x50, 0xFF]))
            return
        if self.faults.buffer_full or self.faults.buffer_full_next > 0:
            self.faults.buffer_full_next = max(0, self.faults.buffer_full_next - 1)
            send(bytes([y0, 0x60, 0x03, 0xFF]))
            return
        free = [n for n, s in self.sockets.items() if s.send is None]
        if not free:
            send(bytes([y0, 0x60, 0x03, 0xFF]))
            return
        socket = free[0]
        plan = self._plan(body)
        if plan is None:
            send(bytes([y0, 0x60, 0x02, 0xFF]))
            return
        if not self.is_on and body != b"\x01\x04\x00\x02":
            send(bytes([y0, 0x60 | socket, 0x41, 0xFF]))
            return
        send(bytes([y0, 0x40 | socket, 0xFF]))
        self.executed.append(body)
        axes, action = plan
        self._supersede(axes)
        duration = action()
        if duration <= 0:
            send(bytes([y0, 0x50 | socket, 0xFF]))
            return
        slot = self.sockets[socket]
        slot.send, slot.axes = send, axes
        slot.handle = asyncio.get_running_loop().call_later(duration, self._complete, socket)

    def reset(self) -> None:
        """Forget running completions (a client went away)."""
        self._clear_sockets()

    # ------------------------------------------------------------------ commands

    def _plan(self, body: bytes) -> tuple[frozenset[str], Callable[[], float]] | None:
        """(axes the command moves, action returning its duration) or None for a syntax error."""
        pt, z, none = frozenset({"pt"}), frozenset({"z"}), frozenset[str]()
        r = self.ranges
        m = self.motion
        if body in (b"\x01\x04\x00\x02", b"\x01\x04\x00\x03"):
            return none, lambda: self._power(body[3] == 0x02)
        if len(body) == 5 and body[:3] == b"\x01\x04\x3f" and body[3] in (0, 1, 2):
            op, number = body[3], body[4]
            if number > r.preset_max:
                return None
            if op == 2:
                return pt | z, lambda: self._recall(number)
            return none, lambda: self._memory(op, number)
        if len(body) == 7 and body[:3] == b"\x01\x06\x01":
            vv, ww, xx, yy = body[3:7]
            if not (1 <= vv <= r.pan_speed_max and 1 <= ww <= r.tilt_speed_max):
                return None
            if xx not in (1, 2, 3) or yy not in (1, 2, 3):
                return None
            vpan = 0.0 if xx == 3 else (vv / r.pan_speed_max) * (1 if xx == 2 else -1)
            vtilt = 0.0 if yy == 3 else (ww / r.tilt_speed_max) * (1 if yy == 1 else -1)
            return pt, lambda: self._drive((vpan, vtilt, None))
        if len(body) == 13 and body[:3] == b"\x01\x06\x02":
            if any(b & 0xF0 for b in body[5:13]):
                return None
            pan = _signed(body[5:9])
            tilt = _signed(body[9:13])
            if not (r.pan_min <= pan <= r.pan_max and r.tilt_min <= tilt <= r.tilt_max):
                return None
            target = (
                _generic(pan, r.pan_min, r.pan_max),
                _generic(tilt, r.tilt_min, r.tilt_max),
                None,
            )
            return pt, lambda: m.move_to(target)
        if body in (b"\x01\x06\x04", b"\x01\x06\x05"):
            return pt, lambda: m.move_to((0.0, 0.0, None))
        if len(body) == 4 and body[:3] == b"\x01\x04\x07":
            p = body[3]
            if p == 0x00:
                return z, lambda: self._drive((None, None, 0.0))
            if p in (0x02, 0x03):
                return z, lambda: self._drive((None, None, 0.5 if p == 0x02 else -0.5))
            if p & 0xF0 in (0x20, 0x30) and p & 0x0F <= 7:
                speed = ((p & 0x0F) + 1) / 8
                return z, lambda: self._drive((None, None, speed if p & 0xF0 == 0x20 else -speed))
            return None
        if len(body) == 7 and body[:3] == b"\x01\x04\x47":
            if any(b & 0xF0 for b in body[3:7]):
                return None
            value = (body[3] << 12) | (body[4] << 8) | (body[5] << 4) | body[6]
            if value > r.zoom_max:
                return None
            return z, lambda: m.move_to((None, None, value / r.zoom_max))
        return None

    def _power(self, on: bool) -> float:
        self.powered = on
        if not on:
            self.motion.stop()
        return 0.0

    def _recall(self, number: int) -> float:
        self.last_preset = number
        target = self.presets.get(number, (0.0, 0.0, 0.0))
        return self.motion.move_to(target)

    def _memory(self, op: int, number: int) -> float:
        if op == 1:
            self.presets[number] = self.motion.position()
        else:
            self.presets.pop(number, None)
        return 0.0

    def _drive(self, velocity: tuple[float | None, float | None, float | None]) -> float:
        self.motion.drive(velocity, None)
        return 0.0

    def _supersede(self, axes: frozenset[str]) -> None:
        """A new move on an axis ends the command that was moving it: complete that one now."""
        for n, slot in self.sockets.items():
            if slot.send is not None and slot.axes & axes:
                self._complete(n)

    def _complete(self, socket: int) -> None:
        slot = self.sockets[socket]
        send, slot.send = slot.send, None
        if slot.handle is not None:
            slot.handle.cancel()
        slot.handle, slot.axes = None, frozenset()
        if send is not None and not self.faults.no_reply:
            send(bytes([self.reply_header, 0x50 | socket, 0xFF]))

    def _cancel(self, socket: int, send: Send) -> None:
        slot = self.sockets.get(socket)
        y0 = self.reply_header
        if slot is None or slot.send is None:
            send(bytes([y0, 0x60 | (socket & 0x0F), 0x05, 0xFF]))
            return
        if slot.handle is not None:
            slot.handle.cancel()
        self.motion.stop(pan_tilt="pt" in slot.axes, zoom="z" in slot.axes)
        slot.send, slot.handle, slot.axes = None, None, frozenset()
        send(bytes([y0, 0x60 | socket, 0x04, 0xFF]))

    def _clear_sockets(self) -> None:
        for slot in self.sockets.values():
            if slot.handle is not None:
                slot.handle.cancel()
            slot.send, slot.handle, slot.axes = None, None, frozenset()

    def _broadcast(self, body: bytes, send: Send) -> None:
        if body == b"\x30\x01":  # Address Set: we take the address, pass on n+1
            send(bytes([0x88, 0x30, self.address + 1, 0xFF]))
        elif body == b"\x01\x00\x01":  # IF_Clear broadcast is echoed
            self._clear_sockets()
            send(bytes([0x88, *body, 0xFF]))

    # ------------------------------------------------------------------ inquiries

    def _inquiry(self, body: bytes) -> bytes | None:
        r = self.ranges
        pan, tilt, zoom = self.motion.position()
        if body == b"\x09\x04\x00":
            return bytes([0x02 if self.is_on else 0x03])
        if body == b"\x09\x04\x47":
            return _nibbles(round(zoom * r.zoom_max), 4)
        if body == b"\x09\x06\x12":
            return _nibbles(_units(pan, r.pan_min, r.pan_max), 4) + _nibbles(
                _units(tilt, r.tilt_min, r.tilt_max), 4
            )
        if body == b"\x09\x04\x3f":
            return bytes([self.last_preset])
        if body == b"\x09\x06\x11":
            return bytes([r.pan_speed_max, r.tilt_speed_max])
        if body == b"\x09\x04\x38":
            return b"\x02"
        if body == b"\x09\x00\x02":
            vendor, model, rom = self.version
            return struct.pack(">HHHB", vendor, model, rom, 2)
        return None


class _Splitter:
    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buf.extend(data)
        out = []
        while (end := self.buf.find(0xFF)) >= 0:
            pkt = bytes(self.buf[: end + 1])
            del self.buf[: end + 1]
            if len(pkt) >= 3 and pkt[0] & 0x80:
                out.append(pkt)
        if len(self.buf) > 64:
            self.buf.clear()
        return out


class ViscaSerialSim:
    """A VISCA camera on a serial line: TCP (for `socket://host:port`) and optionally a pty."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        address: int = 1,
        presets: PresetTable | None = None,
        move_time_s: float = 0.3,
        pty: bool = False,
        ranges: Mapping[str, int] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.engine = ViscaEngine(
            address=address,
            presets=presets,
            move_time_s=move_time_s,
            ranges=ViscaSimRanges(**ranges) if ranges else None,
        )
        self.faults = self.engine.faults
        self.want_pty = pty
        self.pty_path: str | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.want_pty:
            self._open_pty()
        log.info(
            "VISCA serial sim on %s%s", self.url, f" and {self.pty_path}" if self.pty_path else ""
        )

    async def stop(self) -> None:
        self.engine.reset()
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            await self._server.wait_closed()
            self._server = None
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        splitter = _Splitter()

        def send(data: bytes) -> None:
            if not writer.is_closing():
                writer.write(data)

        try:
            while data := await reader.read(256):
                for pkt in splitter.feed(data):
                    self.engine.handle(pkt, send)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.pty_path = os.ttyname(slave)
        splitter = _Splitter()

        def send(data: bytes) -> None:
            if self._master is not None:
                with contextlib.suppress(OSError):
                    os.write(self._master, data)

        def readable() -> None:
            try:
                data = os.read(master, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            for pkt in splitter.feed(data):
                self.engine.handle(pkt, send)

        asyncio.get_running_loop().add_reader(master, readable)


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, sim: ViscaIpSim) -> None:
        self.sim = sim
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.sim._datagram(data, addr)


class ViscaIpSim:
    """A VISCA-over-IP camera on UDP: 8-byte header, sequence numbers, control RESET, repeats."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        presets: PresetTable | None = None,
        move_time_s: float = 0.3,
        ranges: Mapping[str, int] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.engine = ViscaEngine(
            address=1,
            presets=presets,
            move_time_s=move_time_s,
            ranges=ViscaSimRanges(**ranges) if ranges else None,
        )
        self.faults = self.engine.faults
        #: (payload type, sequence) of every datagram received, for tests
        self.received: list[tuple[int, int]] = []
        self._proto: _UdpServer | None = None
        self._replies: dict[tuple[Any, int], list[bytes]] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _UdpServer(self), local_addr=(self.host, self.port)
        )
        self._proto = proto
        self.port = transport.get_extra_info("sockname")[1]
        log.info("VISCA-IP sim on udp://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        self.engine.reset()
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()
        self._proto = None

    def _datagram(self, data: bytes, addr: tuple[Any, int]) -> None:
        if self.faults.no_reply:
            return
        if self.faults.garbage:
            self._sendto(GARBAGE, addr)
            return
        if len(data) < 9:
            return
        ptype, length, seq = struct.unpack(">HHI", data[:8])
        payload = data[8:]
        self.received.append((ptype, seq))
        if length != len(payload) or ptype not in (0x0100, 0x0110, 0x0120, 0x0200):
            self._sendto(struct.pack(">HHI", 0x0201, 2, seq) + b"\x0f\x02", addr)
            return
        if ptype == 0x0200:
            if payload == b"\x01":
                self._replies.clear()
                self.engine.reset()
                self._sendto(struct.pack(">HHI", 0x0201, 1, seq) + b"\x01", addr)
            return
        key = (addr, seq)
        if key in self._replies:  # a resend: answer again, do not execute twice
            for reply in self._replies[key]:
                self._reply(seq, reply, addr, record=False)
            return
        self._replies[key] = []
        if len(self._replies) > 256:
            self._replies.pop(next(iter(self._replies)))
        if payload[0] != 0x81 or payload[-1] != 0xFF:
            return
        self.engine.handle(payload, lambda reply: self._reply(seq, reply, addr))

    def _reply(self, seq: int, reply: bytes, addr: tuple[Any, int], *, record: bool = True) -> None:
        if record and (addr, seq) in self._replies:
            self._replies[(addr, seq)].append(reply)
        if reply is GARBAGE:
            self._sendto(reply, addr)
            return
        self._sendto(struct.pack(">HHI", 0x0111, len(reply), seq) + reply, addr)

    def _sendto(self, data: bytes, addr: tuple[Any, int]) -> None:
        if self.faults.drop_next_replies > 0:
            self.faults.drop_next_replies -= 1
            return
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.sendto(data, addr)


def _nibbles(value: int, count: int) -> bytes:
    value &= (1 << (4 * count)) - 1
    return bytes((value >> (4 * (count - 1 - i))) & 0x0F for i in range(count))


def _signed(nibs: bytes) -> int:
    value = 0
    for b in nibs:
        value = (value << 4) | b
    return value - 0x10000 if value >= 0x8000 else value


def _units(value: float, lo: int, hi: int) -> int:
    return round(value * hi) if value >= 0 else round(-value * lo)


def _generic(units: int, lo: int, hi: int) -> float:
    if units >= 0:
        return units / hi if hi else 0.0
    return -units / lo if lo else 0.0
