"""Sans-IO VISCA codec: message bodies, packet framing, reply parsing, VISCA-over-IP header.

Message *bodies* are the bytes between the header byte and the 0xFF terminator (e.g.
``01 04 3F 02 01`` for preset 1 recall); transports add the header with `packet()`.
Nothing here does I/O; malformed input raises `ViscaDecodeError`, which transports turn
into a `ProtocolError` that names the camera.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from devices.errors import (
    DeviceBusyError,
    DeviceError,
    InvalidParameterError,
    NotAllowedNowError,
    NotFoundError,
    ProtocolError,
)

TERMINATOR = 0xFF
MAX_PACKET = 16
IP_HEADER = 8


class ViscaDecodeError(ProtocolError, ValueError):
    """Bytes that are not a valid VISCA packet or VISCA-over-IP datagram.

    A ProtocolError (no device name yet) so nothing outside the error tree can escape a parser;
    transports still catch it first and re-raise it naming the camera.
    """


class ErrorCode(IntEnum):
    """Error reply codes (`y0 6y EE FF`)."""

    MESSAGE_LENGTH = 0x01
    SYNTAX = 0x02
    BUFFER_FULL = 0x03
    CANCELED = 0x04
    NO_SOCKET = 0x05
    NOT_EXECUTABLE = 0x41


#: what each error reply means (the code stays on the error for display)
ERROR_KINDS: dict[int, type[DeviceError]] = {
    ErrorCode.MESSAGE_LENGTH: InvalidParameterError,
    ErrorCode.SYNTAX: InvalidParameterError,
    ErrorCode.BUFFER_FULL: DeviceBusyError,
    ErrorCode.NO_SOCKET: NotFoundError,
    ErrorCode.NOT_EXECUTABLE: NotAllowedNowError,
}


def error_class(code: int) -> type[DeviceError]:
    """The error class of a VISCA error reply code (CANCELED and unknown: DeviceError)."""
    return ERROR_KINDS.get(code, DeviceError)


ERROR_TEXT: dict[int, str] = {
    ErrorCode.MESSAGE_LENGTH: "message length error",
    ErrorCode.SYNTAX: "syntax error (unknown command or illegal parameter)",
    ErrorCode.BUFFER_FULL: "command buffer full (both sockets busy)",
    ErrorCode.CANCELED: "command canceled",
    ErrorCode.NO_SOCKET: "no socket (nothing to cancel)",
    ErrorCode.NOT_EXECUTABLE: "command not executable in the current mode",
}


class PayloadType(IntEnum):
    """VISCA-over-IP payload types (header bytes 0–1)."""

    COMMAND = 0x0100
    INQUIRY = 0x0110
    REPLY = 0x0111
    DEVICE_SETTING = 0x0120
    CONTROL = 0x0200
    CONTROL_REPLY = 0x0201


class PanDir(IntEnum):
    LEFT = 0x01
    RIGHT = 0x02
    STOP = 0x03


class TiltDir(IntEnum):
    UP = 0x01
    DOWN = 0x02
    STOP = 0x03


@dataclass(frozen=True, slots=True)
class Ack:
    sender: int
    socket: int


@dataclass(frozen=True, slots=True)
class Completion:
    sender: int
    socket: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class ErrorReply:
    sender: int
    socket: int
    code: int

    @property
    def text(self) -> str:
        return ERROR_TEXT.get(self.code, f"error 0x{self.code:02X}")


@dataclass(frozen=True, slots=True)
class OtherReply:
    """A well-framed packet that is not a reply to us (broadcast echo, Network Change)."""

    raw: bytes


Reply = Ack | Completion | ErrorReply | OtherReply


# --------------------------------------------------------------------------- framing


def packet(address: int, body: bytes) -> bytes:
    """Controller → camera `address` (1–7, 8 = broadcast): header, body, terminator."""
    if not 1 <= address <= 8:
        raise ValueError(f"VISCA address {address} is not 1–7 (or 8 for broadcast)")
    if not 1 <= len(body) <= 14:
        raise ValueError(f"VISCA message of {len(body)} bytes (1–14 allowed)")
    return bytes([0x80 | address, *body, TERMINATOR])


def reply_header(address: int) -> int:
    """Header byte of a reply from camera `address` (0x90 for camera 1)."""
    return (address + 8) << 4


def parse_reply(pkt: bytes) -> Reply:
    """One complete reply packet → typed reply; ViscaDecodeError if it is not VISCA."""
    if len(pkt) < 3 or len(pkt) > MAX_PACKET:
        raise ViscaDecodeError(f"packet of {len(pkt)} bytes (3–16 allowed): {pkt.hex(' ')}")
    if pkt[-1] != TERMINATOR or TERMINATOR in pkt[:-1]:
        raise ViscaDecodeError(f"packet not terminated by a single FF: {pkt.hex(' ')}")
    header = pkt[0]
    if header == 0x88:  # broadcast (Address Set / IF_Clear) travelling round the chain
        return OtherReply(pkt)
    if not header & 0x80 or header & 0x08:
        raise ViscaDecodeError(f"invalid header byte 0x{header:02X}: {pkt.hex(' ')}")
    sender = (header >> 4) & 0x07
    kind, socket = pkt[1] >> 4, pkt[1] & 0x0F
    if header & 0x07 != 0:  # not addressed to the controller: broadcast echo etc.
        return OtherReply(pkt)
    if kind == 0x4 and len(pkt) == 3:
        return Ack(sender, socket)
    if kind == 0x5:
        return Completion(sender, socket, pkt[2:-1])
    if kind == 0x6 and len(pkt) == 4:
        return ErrorReply(sender, socket, pkt[2])
    if pkt[1] == 0x38:
        return OtherReply(pkt)
    raise ViscaDecodeError(f"unknown reply {pkt.hex(' ')}")


class PacketSplitter:
    """Cut a byte stream into FF-terminated packets; garbage raises ViscaDecodeError."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete packets now available (the buffer is reset on garbage)."""
        self._buf.extend(data)
        out: list[bytes] = []
        while True:
            if self._buf and not self._buf[0] & 0x80:
                bad = bytes(self._buf)
                self._buf.clear()
                raise ViscaDecodeError(f"garbage on the line: {bad[:32].hex(' ')}")
            end = self._buf.find(TERMINATOR)
            if end < 0:
                if len(self._buf) >= MAX_PACKET:
                    bad = bytes(self._buf)
                    self._buf.clear()
                    raise ViscaDecodeError(f"no terminator within 16 bytes: {bad.hex(' ')}")
                return out
            out.append(bytes(self._buf[: end + 1]))
            del self._buf[: end + 1]

    def clear(self) -> None:
        self._buf.clear()


# --------------------------------------------------------------------------- numbers


def nibbles(value: int, count: int) -> bytes:
    """`value` as `count` bytes of one nibble each, high nibble zero (two's complement if negative)."""
    value &= (1 << (4 * count)) - 1
    return bytes((value >> (4 * (count - 1 - i))) & 0x0F for i in range(count))


def from_nibbles(data: bytes, *, signed: bool = False) -> int:
    """Nibble bytes (`0p 0q 0r 0s`) → integer; signed: two's complement over 4·len bits."""
    if any(b & 0xF0 for b in data):
        raise ViscaDecodeError(f"nibble bytes with a high nibble set: {data.hex(' ')}")
    value = 0
    for b in data:
        value = (value << 4) | b
    bits = 4 * len(data)
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


# --------------------------------------------------------------------------- commands


def power(on: bool) -> bytes:
    return bytes([0x01, 0x04, 0x00, 0x02 if on else 0x03])


def preset_reset(number: int) -> bytes:
    return bytes([0x01, 0x04, 0x3F, 0x00, _byte(number)])


def preset_set(number: int) -> bytes:
    return bytes([0x01, 0x04, 0x3F, 0x01, _byte(number)])


def preset_recall(number: int) -> bytes:
    return bytes([0x01, 0x04, 0x3F, 0x02, _byte(number)])


def pan_tilt_drive(pan_speed: int, tilt_speed: int, pan: PanDir, tilt: TiltDir) -> bytes:
    """Pan-tilt drive; speeds 1…0x18 / 1…0x17 (ignored by the camera for a stopped axis)."""
    return bytes([0x01, 0x06, 0x01, _speed(pan_speed), _speed(tilt_speed), pan, tilt])


def pan_tilt_stop(pan_speed: int = 1, tilt_speed: int = 1) -> bytes:
    return pan_tilt_drive(pan_speed, tilt_speed, PanDir.STOP, TiltDir.STOP)


def absolute_position(pan_speed: int, tilt_speed: int, pan: int, tilt: int) -> bytes:
    """Absolute pan/tilt in signed 16-bit device units."""
    return (
        bytes([0x01, 0x06, 0x02, _speed(pan_speed), _speed(tilt_speed)])
        + nibbles(pan, 4)
        + nibbles(tilt, 4)
    )


def zoom_stop() -> bytes:
    return bytes([0x01, 0x04, 0x07, 0x00])


def zoom_drive(tele: bool, speed: int) -> bytes:
    """Variable-speed zoom, speed 0 (slow) … 7 (fast)."""
    if not 0 <= speed <= 7:
        raise ValueError(f"zoom speed {speed} is not 0–7")
    return bytes([0x01, 0x04, 0x07, (0x20 if tele else 0x30) | speed])


def zoom_direct(position: int) -> bytes:
    return bytes([0x01, 0x04, 0x47]) + nibbles(position, 4)


def cancel(socket: int) -> bytes:
    return bytes([0x20 | (socket & 0x0F)])


def if_clear() -> bytes:
    return bytes([0x01, 0x00, 0x01])


# --------------------------------------------------------------------------- inquiries

POWER_INQ = bytes([0x09, 0x04, 0x00])
ZOOM_POS_INQ = bytes([0x09, 0x04, 0x47])
PAN_TILT_POS_INQ = bytes([0x09, 0x06, 0x12])
LAST_PRESET_INQ = bytes([0x09, 0x04, 0x3F])
VERSION_INQ = bytes([0x09, 0x00, 0x02])


@dataclass(frozen=True, slots=True)
class Version:
    vendor_id: int
    model_id: int
    rom_revision: int
    max_socket: int


def parse_power(data: bytes) -> bool:
    """Power inquiry data → True (on) / False (standby); 0x04 (power error) is a decode error."""
    if data == b"\x02":
        return True
    if data == b"\x03":
        return False
    raise ViscaDecodeError(f"power inquiry reply {data.hex(' ')} (expected 02 or 03)")


def parse_zoom(data: bytes) -> int:
    if len(data) != 4:
        raise ViscaDecodeError(f"zoom position reply of {len(data)} bytes (expected 4)")
    return from_nibbles(data)


def parse_pan_tilt(data: bytes) -> tuple[int, int]:
    """Pan/tilt position reply → signed (pan, tilt); accepts the BRC-300 5+4 nibble form."""
    if len(data) == 8:
        return from_nibbles(data[:4], signed=True), from_nibbles(data[4:], signed=True)
    if len(data) == 9:
        return from_nibbles(data[:5], signed=True), from_nibbles(data[5:], signed=True)
    raise ViscaDecodeError(f"pan/tilt position reply of {len(data)} bytes (expected 8 or 9)")


def parse_version(data: bytes) -> Version:
    if len(data) != 7:
        raise ViscaDecodeError(f"version reply of {len(data)} bytes (expected 7)")
    return Version(
        vendor_id=int.from_bytes(data[0:2], "big"),
        model_id=int.from_bytes(data[2:4], "big"),
        rom_revision=int.from_bytes(data[4:6], "big"),
        max_socket=data[6],
    )


def parse_last_preset(data: bytes) -> int:
    if len(data) != 1:
        raise ViscaDecodeError(f"last-preset reply of {len(data)} bytes (expected 1)")
    return data[0]


# --------------------------------------------------------------------------- VISCA over IP


def ip_datagram(payload_type: int, sequence: int, payload: bytes) -> bytes:
    """8-byte header (type, length, sequence, all big-endian) + payload."""
    return struct.pack(">HHI", payload_type, len(payload), sequence & 0xFFFFFFFF) + payload


def parse_ip_datagram(data: bytes) -> tuple[int, int, bytes]:
    """Datagram → (payload type, sequence, payload); the declared length must match."""
    if len(data) < IP_HEADER + 1:
        raise ViscaDecodeError(f"VISCA-IP datagram of {len(data)} bytes is too short")
    ptype, length, seq = struct.unpack(">HHI", data[:IP_HEADER])
    payload = data[IP_HEADER:]
    if length != len(payload):
        raise ViscaDecodeError(
            f"VISCA-IP header declares {length} payload bytes, datagram carries {len(payload)}"
        )
    if ptype not in _PAYLOAD_TYPES:
        raise ViscaDecodeError(f"unknown VISCA-IP payload type 0x{ptype:04X}")
    return ptype, seq, payload


CONTROL_RESET = b"\x01"
_PAYLOAD_TYPES = frozenset(int(p) for p in PayloadType)


def _byte(value: int) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{value} does not fit a VISCA parameter byte")
    return value


def _speed(value: int) -> int:
    if not 1 <= value <= 0x18:
        raise ValueError(f"pan/tilt speed {value} is not 1–0x18")
    return value
