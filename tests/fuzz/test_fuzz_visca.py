"""VISCA replies and VISCA-over-IP datagrams: typed value or ViscaDecodeError (a ProtocolError)."""

from __future__ import annotations

import contextlib

import pytest
from fuzz_strategies import mutated
from hypothesis import given
from hypothesis import strategies as st

from drivers.visca import codec

pytestmark = pytest.mark.fuzz

INQUIRY_PARSERS = [
    codec.parse_power,
    codec.parse_zoom,
    codec.parse_pan_tilt,
    codec.parse_version,
    codec.parse_last_preset,
]


@st.composite
def reply_packets(draw: st.DrawFn) -> bytes:
    """Near-valid replies: a camera header, ACK/completion/error/other kinds, nibble data, FF."""
    address = draw(st.integers(1, 7))
    header = draw(
        st.sampled_from([codec.reply_header(address), 0x88, 0x90 | draw(st.integers(0, 7))])
        | st.integers(0, 255)
    )
    kind = draw(st.sampled_from([0x40, 0x50, 0x60, 0x38]) | st.integers(0, 255))
    socket = draw(st.integers(0, 15))
    data = draw(st.lists(st.integers(0, 15) | st.integers(0, 254), max_size=13))
    pkt = bytes([header, (kind & 0xF0) | socket if kind != 0x38 else kind, *data, codec.TERMINATOR])
    return draw(mutated(pkt)) if draw(st.booleans()) else pkt


def _parse(pkt: bytes) -> codec.Reply | None:
    try:
        reply = codec.parse_reply(pkt)
    except codec.ViscaDecodeError:  # any other error fails the test
        return None
    assert isinstance(reply, codec.Ack | codec.Completion | codec.ErrorReply | codec.OtherReply)
    return reply


@given(st.binary(max_size=24))
def test_any_bytes_parse_or_raise_decode_error(pkt: bytes) -> None:
    _parse(pkt)


@given(reply_packets())
def test_near_valid_replies_parse_and_inquiry_data_decodes(pkt: bytes) -> None:
    reply = _parse(pkt)
    if isinstance(reply, codec.Completion):
        for parse in INQUIRY_PARSERS:
            with contextlib.suppress(codec.ViscaDecodeError):
                parse(reply.data)


@given(st.lists(st.binary(max_size=20) | reply_packets(), max_size=8))
def test_splitter_yields_only_framed_packets(chunks: list[bytes]) -> None:
    splitter = codec.PacketSplitter()
    for chunk in chunks:
        try:
            packets = splitter.feed(chunk)
        except codec.ViscaDecodeError:
            continue
        for pkt in packets:
            assert pkt[0] & 0x80
            assert pkt[-1] == codec.TERMINATOR
            assert codec.TERMINATOR not in pkt[:-1]
            if len(pkt) > codec.MAX_PACKET:  # framed in one read: parse_reply refuses it
                assert _parse(pkt) is None
            else:
                _parse(pkt)


@st.composite
def datagrams(draw: st.DrawFn) -> bytes:
    """VISCA-over-IP: a valid or odd payload type, a right or wrong length, any sequence."""
    ptype = draw(st.sampled_from([int(p) for p in codec.PayloadType]) | st.integers(0, 0xFFFF))
    payload = draw(reply_packets() | st.binary(max_size=20))
    data = codec.ip_datagram(ptype, draw(st.integers(0, 2**32 - 1)), payload)
    if draw(st.booleans()):
        length = draw(st.integers(0, 0xFFFF))
        data = data[:2] + length.to_bytes(2, "big") + data[4:]
    return draw(mutated(data)) if draw(st.booleans()) else data


@given(st.binary(max_size=40) | datagrams())
def test_ip_datagrams_parse_or_raise_decode_error(data: bytes) -> None:
    try:
        ptype, seq, payload = codec.parse_ip_datagram(data)
    except codec.ViscaDecodeError:
        return
    assert ptype in set(codec.PayloadType)
    assert 0 <= seq <= 0xFFFFFFFF
    assert len(payload) == int.from_bytes(data[2:4], "big") > 0
    if ptype == codec.PayloadType.REPLY:
        _parse(payload)


@given(
    st.sampled_from(list(codec.PayloadType)),
    st.integers(0, 2**32 - 1),
    st.binary(min_size=1, max_size=64),
)
def test_ip_datagram_round_trip(ptype: codec.PayloadType, seq: int, payload: bytes) -> None:
    assert codec.parse_ip_datagram(codec.ip_datagram(ptype, seq, payload)) == (ptype, seq, payload)


@given(st.integers(1, 5).flatmap(lambda n: st.tuples(st.just(n), st.integers(-(8**n), 8**n))))
def test_nibbles_round_trip(case: tuple[int, int]) -> None:
    count, value = case
    value = max(-(1 << (4 * count - 1)), min(value, (1 << (4 * count - 1)) - 1))
    assert codec.from_nibbles(codec.nibbles(value, count), signed=True) == value
