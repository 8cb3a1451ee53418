"""Tesira TTP lines and Telnet negotiation: no byte string from a device escapes the error tree."""

from __future__ import annotations

import pytest
from fuzz_strategies import NASTY_NUMBER_TEXT
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import McuControlError
from drivers.tesira.codec import (
    DO,
    DONT,
    IAC,
    SB,
    SE,
    WILL,
    WONT,
    Err,
    LineSplitter,
    Ok,
    Publish,
    TelnetFilter,
    format_value,
    parse_line,
    parse_value,
)

pytestmark = pytest.mark.fuzz

PREFIXES = st.sampled_from(
    ["", "+OK ", '+OK "value":', "-ERR ", '! "publishToken":"x" "value":', "!", "+OK", " +OK "]
)
TTP_TEXT = st.text(
    alphabet=st.sampled_from(list('"{}[]:, -.0123456789abcINDTRUEtruefalsenull\\eE_\t')),
    max_size=60,
)


@st.composite
def ttp_values(draw: st.DrawFn, depth: int = 0, *, nasty: bool = True) -> str:
    """Well-formed TTP value text (numbers, booleans, strings, enums, arrays, objects)."""
    leaves: st.SearchStrategy[str] = st.one_of(
        st.integers().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(format_value),
        st.sampled_from(["true", "false", "null", "INDICATOR_NONE_IN_DEVICE", "MUTE.ON"]),
        st.text(max_size=8).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
        *([NASTY_NUMBER_TEXT] if nasty else []),
    )
    if depth >= 3 or draw(st.booleans()):
        return draw(leaves)
    if draw(st.booleans()):
        items = draw(st.lists(ttp_values(depth + 1, nasty=nasty), max_size=3))
        return "[" + " ".join(items) + "]"
    keys = draw(st.lists(st.sampled_from(["value", "a", "b c", 'q"']), max_size=3))
    pairs = [
        f'"{k.replace(chr(34), chr(92) + chr(34))}":{draw(ttp_values(depth + 1, nasty=nasty))}'
        for k in keys
    ]
    return "{" + " ".join(pairs) + "}"


def _check_line(line: str) -> None:
    try:
        reply = parse_line(line)
    except McuControlError:
        return
    assert reply is None or isinstance(reply, Ok | Err | Publish)


@given(PREFIXES, TTP_TEXT)
def test_ttp_lines_parse_or_raise_protocol_error(prefix: str, body: str) -> None:
    _check_line(prefix + body)


@given(st.text(max_size=200))
def test_any_text_line_parses_or_raises(line: str) -> None:
    _check_line(line)


@given(PREFIXES, ttp_values(), st.integers(0, 60), st.text(max_size=3))
def test_near_valid_lines_parse_or_raise(prefix: str, value: str, cut: int, junk: str) -> None:
    """Valid values, then the same cut short or with junk spliced in."""
    _check_line(prefix + value)
    _check_line(prefix + value[:cut])
    _check_line(prefix + value[:cut] + junk + value[cut:])


@given(ttp_values(nasty=False))
def test_well_formed_values_parse(value: str) -> None:
    """A well-formed value always parses (the grammar the parser accepts is not too narrow)."""
    parse_value(value)


# --------------------------------------------------------------------------- telnet

NEGOTIATION = st.one_of(
    st.builds(
        lambda c, o: bytes([IAC, c, o]),
        st.sampled_from([DO, DONT, WILL, WONT]),
        st.integers(0, 255),
    ),
    st.builds(
        lambda b: bytes([IAC, SB]) + b.replace(bytes([IAC]), b"") + bytes([IAC, SE]),
        st.binary(max_size=6),
    ),
    st.just(bytes([IAC, IAC])),
    st.builds(lambda c: bytes([IAC, c]), st.integers(241, 249)),
    st.binary(min_size=1, max_size=8).map(lambda b: b.replace(bytes([IAC]), b"")),
)


@given(st.lists(st.binary(max_size=30), max_size=8))
def test_telnet_filter_and_splitter_take_any_chunks(chunks: list[bytes]) -> None:
    f, s = TelnetFilter(), LineSplitter()
    for chunk in chunks:
        payload, answer = f.feed(chunk)
        assert len(answer) % 3 == 0
        try:
            s.feed(payload)
        except McuControlError:
            s = LineSplitter()


@given(st.lists(NEGOTIATION, max_size=12), st.lists(st.integers(1, 12), max_size=8))
def test_telnet_stripping_is_independent_of_chunking(pieces: list[bytes], cuts: list[int]) -> None:
    """Whole or cut anywhere, the stream yields the same payload and the same refusals."""
    stream = b"".join(pieces)
    whole, whole_answer = TelnetFilter().feed(stream)
    f = TelnetFilter()
    out, answer, pos = b"", b"", 0
    for cut in [*cuts, len(stream)]:
        p, a = f.feed(stream[pos : pos + cut])
        out, answer, pos = out + p, answer + a, pos + cut
    assert (out, answer) == (whole, whole_answer)
    expected = b"".join(
        p if p[:1] != bytes([IAC]) else (bytes([IAC]) if p == bytes([IAC, IAC]) else b"")
        for p in pieces
    )
    assert whole == expected
    refusals = [answer[i : i + 3] for i in range(0, len(answer), 3)]
    assert all(r[:2] in (bytes([IAC, WONT]), bytes([IAC, DONT])) for r in refusals)
    # a DO/WILL is an IAC-led 3-byte piece; plain data may hold those byte values too
    offers = sum(1 for p in pieces if len(p) == 3 and p[0] == IAC and p[1] in (DO, WILL))
    assert len(refusals) == offers


def test_data_bytes_that_look_like_an_offer_are_not_refused() -> None:
    """Found by the 100 000-input run (an oracle bug): 0xFB in data is not a WILL."""
    payload, answer = TelnetFilter().feed(b"\x00\xfb\x00")
    assert (payload, answer) == (b"\x00\xfb\x00", b"")
