"""Shared generators for the fuzz set: mutations of valid messages and XML text."""

from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import strategies as st

#: numbers that break naive conversions: huge, infinite, NaN, negative zero, 4300+ digits
NASTY_NUMBER_TEXT = st.sampled_from(
    [
        "0",
        "-1",
        "1e999",
        "-1e999",
        "inf",
        "-inf",
        "nan",
        "NaN",
        "1" * 5000,
        "-" + "9" * 4301,
        "²",
        "٣",
        "--5",
        "0x1F",
        " 7 ",
        "",
        "1.5",
        "9" * 20,
    ]
)

XML_TEXT = st.one_of(NASTY_NUMBER_TEXT, st.text(max_size=30)).map(
    lambda s: escape("".join(c for c in s if c.isprintable() or c in "\t\n"))
)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few random byte edits: flip, delete, insert, truncate, duplicate a slice."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        if not buf:
            buf += draw(st.binary(min_size=1, max_size=4))
            continue
        i = draw(st.integers(0, len(buf) - 1))
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "dup"]))
        if op == "flip":
            buf[i] = draw(st.integers(0, 255))
        elif op == "delete":
            del buf[i : i + draw(st.integers(1, 8))]
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "truncate":
            del buf[i:]
        else:
            j = draw(st.integers(i, min(len(buf), i + 16)))
            buf[j:j] = buf[i:j]
    return bytes(buf)
