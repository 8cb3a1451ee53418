"""VISCA codec against byte vectors from docs/protocols/visca.md."""

from __future__ import annotations

import pytest

from devices.interfaces import PtzPosition
from drivers.visca import codec
from drivers.visca.codec import (
    Ack,
    Completion,
    ErrorReply,
    OtherReply,
    PanDir,
    PayloadType,
    TiltDir,
    ViscaDecodeError,
)
from drivers.visca.driver import ViscaRanges, to_device, to_generic


def h(text: str) -> bytes:
    return bytes.fromhex(text)


COMMANDS = [
    (1, codec.preset_recall(1), "81 01 04 3F 02 01 FF"),
    (1, codec.preset_set(2), "81 01 04 3F 01 02 FF"),
    (1, codec.preset_reset(0x0F), "81 01 04 3F 00 0F FF"),
    (3, codec.preset_recall(0xFE), "83 01 04 3F 02 FE FF"),
    (1, codec.power(True), "81 01 04 00 02 FF"),
    (1, codec.power(False), "81 01 04 00 03 FF"),
    (1, codec.zoom_stop(), "81 01 04 07 00 FF"),
    (1, codec.zoom_drive(True, 7), "81 01 04 07 27 FF"),
    (1, codec.zoom_drive(False, 0), "81 01 04 07 30 FF"),
    (1, codec.zoom_direct(0x4000), "81 01 04 47 04 00 00 00 FF"),
    (1, codec.pan_tilt_drive(0x18, 0x14, PanDir.LEFT, TiltDir.UP), "81 01 06 01 18 14 01 01 FF"),
    (1, codec.pan_tilt_stop(), "81 01 06 01 01 01 03 03 FF"),
    # pan −2448 = 0xF670, tilt 1296 = 0x0510 (SRG-300H limits)
    (
        1,
        codec.absolute_position(0x18, 0x14, -2448, 1296),
        "81 01 06 02 18 14 0F 06 07 00 00 05 01 00 FF",
    ),
    (1, codec.if_clear(), "81 01 00 01 FF"),
    (1, codec.cancel(2), "81 22 FF"),
    (1, codec.POWER_INQ, "81 09 04 00 FF"),
    (1, codec.ZOOM_POS_INQ, "81 09 04 47 FF"),
    (1, codec.PAN_TILT_POS_INQ, "81 09 06 12 FF"),
    (1, codec.LAST_PRESET_INQ, "81 09 04 3F FF"),
    (1, codec.VERSION_INQ, "81 09 00 02 FF"),
]


@pytest.mark.parametrize(("address", "body", "expected"), COMMANDS)
def test_command_packets(address: int, body: bytes, expected: str) -> None:
    assert codec.packet(address, body) == h(expected)


REPLIES = [
    ("90 41 FF", Ack(1, 1)),
    ("90 42 FF", Ack(1, 2)),
    ("90 51 FF", Completion(1, 1, b"")),
    ("90 52 FF", Completion(1, 2, b"")),
    ("A0 51 FF", Completion(2, 1, b"")),
    ("90 50 02 FF", Completion(1, 0, b"\x02")),
    ("90 60 02 FF", ErrorReply(1, 0, 0x02)),
    ("90 60 03 FF", ErrorReply(1, 0, 0x03)),
    ("90 61 41 FF", ErrorReply(1, 1, 0x41)),
    ("90 62 04 FF", ErrorReply(1, 2, 0x04)),
    ("90 61 05 FF", ErrorReply(1, 1, 0x05)),
    ("90 61 01 FF", ErrorReply(1, 1, 0x01)),
    ("88 30 02 FF", OtherReply(h("88 30 02 FF"))),
    ("90 38 FF", OtherReply(h("90 38 FF"))),
]


@pytest.mark.parametrize(("raw", "expected"), REPLIES)
def test_reply_parsing(raw: str, expected: codec.Reply) -> None:
    assert codec.parse_reply(h(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "90 41",  # no terminator
        "10 41 FF",  # header without bit 7
        "98 41 FF",  # bit 3 of the header set
        "90 FF",  # too short
        "90 50 " + "00 " * 14 + "FF",  # 17 bytes
        "90 70 FF",  # unknown reply kind
        "90 41 FF FF",  # FF inside
    ],
)
def test_malformed_replies_raise(raw: str) -> None:
    with pytest.raises(ViscaDecodeError):
        codec.parse_reply(h(raw))


def test_error_texts_name_the_condition() -> None:
    assert "buffer full" in ErrorReply(1, 0, 0x03).text
    assert "syntax" in ErrorReply(1, 0, 0x02).text
    assert "not executable" in ErrorReply(1, 1, 0x41).text
    assert "canceled" in ErrorReply(1, 1, 0x04).text


INQUIRY_DATA = [
    (codec.parse_power, "02", True),
    (codec.parse_power, "03", False),
    (codec.parse_zoom, "04 00 00 00", 0x4000),
    (codec.parse_zoom, "07 0A 0C 00", 0x7AC0),
    # pan 0x0990 = 2448, tilt 0xFE50 = −432
    (codec.parse_pan_tilt, "00 09 09 00 0F 0E 05 00", (2448, -432)),
    (codec.parse_pan_tilt, "0F 06 07 00 00 05 01 00", (-2448, 1296)),
    # BRC-300: 5 pan nibbles + 4 tilt
    (codec.parse_pan_tilt, "0F 0F 06 07 00 00 05 01 00", (-2448, 1296)),
    (codec.parse_last_preset, "02", 2),
    (
        codec.parse_version,
        "00 01 05 19 01 00 02",
        codec.Version(vendor_id=1, model_id=0x0519, rom_revision=0x0100, max_socket=2),
    ),
]


@pytest.mark.parametrize(("parse", "data", "expected"), INQUIRY_DATA)
def test_inquiry_data(parse: object, data: str, expected: object) -> None:
    assert parse(h(data)) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        (codec.parse_power, "04"),
        (codec.parse_zoom, "04 00 00"),
        (codec.parse_zoom, "14 00 00 00"),
        (codec.parse_pan_tilt, "00 00 00"),
        (codec.parse_version, "00 01"),
    ],
)
def test_bad_inquiry_data_raises(parse: object, data: str) -> None:
    with pytest.raises(ViscaDecodeError):
        parse(h(data))  # type: ignore[operator]


def test_nibbles_round_trip_signed() -> None:
    for value in (-2448, -1, 0, 1, 1296, 0x7FFF, -0x8000):
        assert codec.from_nibbles(codec.nibbles(value, 4), signed=True) == value
    assert codec.nibbles(0x4000, 4) == h("04 00 00 00")


def test_visca_ip_preset_recall_datagram() -> None:
    body = codec.packet(1, codec.preset_recall(1))
    datagram = codec.ip_datagram(PayloadType.COMMAND, 1, body)
    assert datagram == h("01 00 00 07 00 00 00 01 81 01 04 3F 02 01 FF")
    assert codec.parse_ip_datagram(datagram) == (0x0100, 1, body)


def test_visca_ip_control_reset_and_reply() -> None:
    assert codec.ip_datagram(PayloadType.CONTROL, 1, codec.CONTROL_RESET) == h(
        "02 00 00 01 00 00 00 01 01"
    )
    assert codec.parse_ip_datagram(h("01 11 00 03 00 00 00 2A 90 41 FF")) == (
        0x0111,
        42,
        h("90 41 FF"),
    )


@pytest.mark.parametrize(
    "raw",
    [
        "01 00 00 09 00 00 00 00 81 01 04 3F 02 01 FF",  # AVer example: length 9 for 7 bytes
        "01 00 00 07",  # header cut short
        "05 55 00 03 00 00 00 01 90 41 FF",  # unknown payload type
    ],
)
def test_strict_visca_ip_header(raw: str) -> None:
    with pytest.raises(ViscaDecodeError):
        codec.parse_ip_datagram(h(raw))


def test_splitter_cuts_stream_and_rejects_garbage() -> None:
    s = codec.PacketSplitter()
    assert s.feed(h("90 41")) == []
    assert s.feed(h("FF 90 51 FF 90")) == [h("90 41 FF"), h("90 51 FF")]
    assert s.feed(h("50 02 FF")) == [h("90 50 02 FF")]
    with pytest.raises(ViscaDecodeError):
        s.feed(b"\x13\x37garbage\xff")
    assert s.feed(h("90 41 FF")) == [h("90 41 FF")]  # recovers after garbage
    with pytest.raises(ViscaDecodeError):
        s.feed(h("90" + " 00" * 16))  # no terminator within 16 bytes


SRG = ViscaRanges(pan_min=-2448, pan_max=2448, tilt_min=-432, tilt_max=1296, zoom_max=16384)


@pytest.mark.parametrize(
    ("generic", "units"),
    [
        (PtzPosition(0, 0, 0), (0, 0, 0)),
        (PtzPosition(1, 1, 1), (2448, 1296, 16384)),
        (PtzPosition(-1, -1, 0), (-2448, -432, 0)),
        (PtzPosition(0.5, -0.5, 0.25), (1224, -216, 4096)),
        (PtzPosition(2, -3, 1.5), (2448, -432, 16384)),  # clamped
    ],
)
def test_generic_to_device_units(generic: PtzPosition, units: tuple[int, int, int]) -> None:
    assert to_device(generic, SRG) == units
    back = to_generic(*to_device(generic, SRG), SRG)
    assert (
        back.distance(
            PtzPosition(
                max(-1, min(1, generic.pan)), max(-1, min(1, generic.tilt)), min(1, generic.zoom)
            )
        )
        < 1e-3
    )


def test_decode_error_is_in_the_error_tree() -> None:
    """Nothing a VISCA parser raises can escape `except McuControlError` (still a ValueError)."""
    from devices.errors import McuControlError, ProtocolError

    with pytest.raises(McuControlError) as info:
        codec.parse_reply(b"\x90\x41")
    assert isinstance(info.value, ProtocolError)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, codec.ViscaDecodeError)
