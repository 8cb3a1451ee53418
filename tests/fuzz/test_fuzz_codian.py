"""Codian XML-RPC answers: any bytes decode to a struct or raise an error of the project's tree."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from fuzz_strategies import NASTY_NUMBER_TEXT, XML_TEXT, mutated
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import McuControlError
from devices.health import Health
from devices.interfaces import Conference, McuInfo, Participant
from drivers.codian import codec

pytestmark = pytest.mark.fuzz

SCALAR_TAGS = [
    "int",
    "i4",
    "i8",
    "double",
    "boolean",
    "string",
    "dateTime.iso8601",
    "base64",
    "bigdecimal",
    "biginteger",
    "float",
    "byte",
    "bogus",
]
KEYS = st.sampled_from(
    [
        "conferenceName",
        "participantName",
        "currentState",
        "configuredState",
        "callState",
        "disconnectReason",
        "totalVideoPorts",
        "currentTime",
        "audioRxLost",
        "connectTime",
        "operationalStatus",
        "cpuLoad",
        "faultCode",
        "faultString",
        "uniqueId",
        "participantProtocol",
    ]
) | st.text(max_size=8)


def _scalar_xml() -> st.SearchStrategy[str]:
    def render(tag: str, text: str, bare: bool) -> str:
        if tag == "nil":
            return "<value><nil/></value>"
        return f"<value>{text}</value>" if bare else f"<value><{tag}>{text}</{tag}></value>"

    valid = st.sampled_from(
        ["42", "-7", "1", "0", "3.5", "20261210T08:30:00", "aGVsbG8=", "true", "ok"]
    )
    return st.builds(
        render,
        st.sampled_from([*SCALAR_TAGS, "nil"]),
        st.one_of(valid, XML_TEXT, NASTY_NUMBER_TEXT),
        st.booleans(),
    )


def _value_xml() -> st.SearchStrategy[str]:
    def struct(members: list[tuple[str, str]]) -> str:
        body = "".join(f"<member><name>{name}</name>{value}</member>" for name, value in members)
        return f"<value><struct>{body}</struct></value>"

    def array(items: list[str]) -> str:
        return f"<value><array><data>{''.join(items)}</data></array></value>"

    return st.recursive(
        _scalar_xml(),
        lambda inner: st.one_of(
            st.lists(st.tuples(KEYS.map(lambda k: k.replace("<", "")), inner), max_size=5).map(
                struct
            ),
            st.lists(inner, max_size=4).map(array),
        ),
        max_leaves=12,
    )


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    """Near-valid methodResponse documents: params with any values, or a fault struct."""
    value = draw(_value_xml())
    if draw(st.booleans()):
        params = draw(st.lists(_value_xml(), min_size=0, max_size=2))
        if draw(st.booleans()):
            params = [value]
        body = "".join(f"<param>{p}</param>" for p in params)
        inner = f"<params>{body}</params>"
    else:
        code = draw(_scalar_xml())
        text = draw(_scalar_xml())
        extra = draw(st.sampled_from(["", f"<member><name>x</name>{value}</member>"]))
        inner = (
            "<fault><value><struct>"
            f"<member><name>faultCode</name>{code}</member>"
            f"<member><name>faultString</name>{text}</member>{extra}"
            "</struct></value></fault>"
        )
    doc = f"<?xml version='1.0'?><methodResponse>{inner}</methodResponse>".encode()
    return draw(mutated(doc)) if draw(st.booleans()) else doc


PY_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=10),
        st.binary(max_size=5),
        st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=10,
)


def _decode(body: bytes) -> dict[str, Any] | None:
    try:
        result = codec.decode_response(body, device="p.mcu", method="m")
    except McuControlError:
        return None
    assert isinstance(result, dict)
    return result


def _parse_all(struct: dict[str, Any]) -> None:
    with contextlib.suppress(McuControlError):
        assert isinstance(codec.parse_device_query(struct, device="p.mcu"), McuInfo)
    assert isinstance(codec.parse_health(struct), Health)
    assert isinstance(codec.parse_conference(struct), Conference)
    assert isinstance(codec.parse_participant(struct), Participant)


@given(st.binary(max_size=400))
def test_any_bytes_decode_or_raise_tree_error(body: bytes) -> None:
    _decode(body)


@given(responses())
def test_near_valid_responses_decode_or_raise_tree_error(body: bytes) -> None:
    result = _decode(body)
    if result is not None:
        _parse_all(result)


@given(st.dictionaries(KEYS, PY_VALUES, max_size=8))
def test_result_parsers_take_any_struct(struct: dict[str, Any]) -> None:
    _parse_all(struct)
