"""MQTT command payloads: any bytes are a CommandRequest or a MalformedCommandError, nothing else."""

from __future__ import annotations

import json

import pytest
from fuzz_strategies import mutated
from hypothesis import given
from hypothesis import strategies as st

from mcu_control.mqtt.commands import MAX_ID, CommandRequest, MalformedCommandError, parse_request

pytestmark = pytest.mark.fuzz

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """Near-valid requests: an id, params, sometimes extra keys, then maybe byte edits."""
    body: dict[str, object] = {"id": draw(st.text(max_size=MAX_ID + 2) | JSON)}
    if draw(st.booleans()):
        body["params"] = draw(st.dictionaries(st.text(max_size=6), JSON, max_size=3) | JSON)
    if draw(st.integers(0, 4)) == 0:
        body[draw(st.text(max_size=5))] = draw(JSON)
    doc = json.dumps(body).encode()
    return draw(mutated(doc)) if draw(st.booleans()) else doc


def _check(payload: bytes) -> None:
    try:
        request = parse_request(payload)
    except MalformedCommandError as exc:
        readable_id = exc.request_id
    else:
        assert isinstance(request, CommandRequest)
        assert 0 < len(request.id) <= MAX_ID
        assert isinstance(request.params, dict)
        return
    assert readable_id is None or 0 < len(readable_id) <= MAX_ID


@given(st.binary(max_size=300))
def test_any_bytes_are_a_request_or_malformed(payload: bytes) -> None:
    _check(payload)


@given(requests())
def test_near_valid_requests_are_a_request_or_malformed(payload: bytes) -> None:
    _check(payload)


@pytest.mark.parametrize(
    "payload",
    [b"[" * 30_000, b'{"id": "a", "params": {"n": ' + b"1" * 5000 + b"}}"],
    ids=["deep-nesting-recursionerror", "huge-int-valueerror"],
)
def test_fuzz_regressions_are_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedCommandError):
        parse_request(payload)
