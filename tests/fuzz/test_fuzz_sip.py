"""SIP OPTIONS answers: framing and parsing take any bytes; only ProtocolError escapes."""

from __future__ import annotations

import pytest
from fuzz_strategies import NASTY_NUMBER_TEXT, mutated
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import McuControlError
from drivers.sip.codec import SipResponse, build_options, matches, message_length, parse_response

pytestmark = pytest.mark.fuzz

REQUEST = build_options("sip:a@127.0.0.1", transport="udp", local_host="127.0.0.1", local_port=5060)
HEADER_NAMES = st.sampled_from(
    ["Via", "v", "Call-ID", "i", "CSeq", "Content-Length", "l", "From", "To", "X-Odd", " ", ""]
)
HEADER_VALUES = st.one_of(
    NASTY_NUMBER_TEXT,
    st.text(max_size=30).map(lambda s: s.replace("\r", "").replace("\n", "")),
    st.just(f"SIP/2.0/UDP 127.0.0.1:5060;branch={REQUEST.branch}"),
    st.just(REQUEST.call_id),
)


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    """Near-valid responses: a status line, headers (some folded, some compact), a body."""
    code = draw(st.sampled_from(["200", "100", "404", "999", "20", "abc"]) | NASTY_NUMBER_TEXT)
    lines = [f"SIP/2.0 {code} {draw(st.text(max_size=10))}".replace("\n", "")]
    for name, value in draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6)):
        lines.append(f"{name}: {value}" if draw(st.booleans()) else f" {value}")
    body = draw(st.binary(max_size=20))
    doc = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body
    return draw(mutated(doc)) if draw(st.booleans()) else doc


def _check(data: bytes) -> None:
    try:
        resp = parse_response(data)
    except McuControlError:
        pass
    else:
        assert isinstance(resp, SipResponse)
        assert 0 <= resp.status <= 999
        assert isinstance(matches(resp, REQUEST), bool)
    try:
        size = message_length(data)
    except McuControlError:
        return
    assert size is None or 0 < size <= len(data)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_protocol_error(data: bytes) -> None:
    _check(data)


@given(responses())
def test_near_valid_responses_parse_or_raise_protocol_error(data: bytes) -> None:
    _check(data)


@given(responses(), st.lists(st.integers(1, 40), max_size=5))
def test_stream_framing_never_overruns_the_buffer(data: bytes, cuts: list[int]) -> None:
    """Feeding a TCP stream in pieces, the framer never claims more bytes than it holds."""
    buf = b""
    pos = 0
    for cut in [*cuts, len(data)]:
        buf += data[pos : pos + cut]
        pos += cut
        try:
            size = message_length(buf)
        except McuControlError:
            return
        if size is not None:
            assert size <= len(buf)
            buf = buf[size:]
