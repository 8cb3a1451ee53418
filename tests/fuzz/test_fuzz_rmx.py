"""RMX XML answers: any bytes decode to an element or raise an error of the project's tree."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET

import pytest
from fuzz_strategies import NASTY_NUMBER_TEXT, XML_TEXT, mutated
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import McuControlError
from devices.health import Health
from drivers.rmx import codec

pytestmark = pytest.mark.fuzz

TRANS = "TRANS_CONF_1"
TAGS = st.sampled_from(
    [
        "ID",
        "DESCRIPTION",
        "MCU_TOKEN",
        "MCU_USER_TOKEN",
        "MCU_VERSION",
        "MAIN",
        "PRODUCT_TYPE",
        "MCU_TIME",
        "MCU_STATE",
        "HW_STATUS",
        "FAN",
        "RSRC_REPORT_RMX",
        "TYPE",
        "TOTAL",
        "OCCUPIED",
        "OBJ_TOKEN",
        "CHANGED",
        "CONF_SUMMARY",
        "NAME",
        "NUMERIC_ID",
        "NUM_PARTIES",
        "ONGOING_PARTY",
        "PARTY",
        "INTERFACE",
        "SIP_ADDRESS",
        "ALIAS",
        "IP",
        "ONGOING_PARTY_STATUS",
        "DISCONNECTION_CAUSE",
        "CONNECT_TIME",
        "AUDIO_MUTE",
        "REMOTE_NAME",
        "MEDIA_STATISTICS",
        "CHANNEL",
        "CODEC",
        "PACKETS",
        "LOST",
    ]
)
TEXTS = st.one_of(
    NASTY_NUMBER_TEXT.map(lambda s: s.replace("<", "").replace("&", "")),
    XML_TEXT,
    st.sampled_from(
        ["connected", "disconnected", "major", "normal", "video", "audio_in", "2026-12-10T08:00:00"]
    ),
)

#: the fixed skeleton each parser walks; the fuzzed subtree is planted at every level
SKELETON = [
    "ACTION/LOGIN",
    "ACTION/GET_STATE",
    "ACTION/GET_LS/CONF_SUMMARY_LS",
    "ACTION/GET/CONFERENCE/ONGOING_PARTY_LIST/ONGOING_PARTY",
    "ACTION/START",
]


def _element() -> st.SearchStrategy[str]:
    leaf = st.builds(lambda t, x: f"<{t}>{x}</{t}>", TAGS, TEXTS)
    return st.recursive(
        leaf,
        lambda inner: st.builds(
            lambda t, kids: f"<{t}>{''.join(kids)}</{t}>", TAGS, st.lists(inner, max_size=4)
        ),
        max_leaves=15,
    )


def _wrap(path: str, inner: str) -> str:
    parts = path.split("/")
    return "".join(f"<{p}>" for p in parts) + inner + "".join(f"</{p}>" for p in reversed(parts))


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    """Near-valid RESPONSE_* documents: status, the skeleton, random elements under it."""
    status_id = draw(st.sampled_from(["0", "0", "0"]) | TEXTS)
    description = draw(TEXTS)
    body = "".join(
        _wrap(path, "".join(draw(st.lists(_element(), max_size=3))))
        for path in draw(st.lists(st.sampled_from(SKELETON), max_size=3))
    )
    tag = draw(st.sampled_from([f"RESPONSE_{TRANS}", f"RESPONSE_{TRANS}", "OTHER"]))
    decl = draw(
        st.sampled_from(
            [
                "",
                '<?xml version="1.0" encoding="utf-8"?>',
                '<?xml version="1.0" encoding="x-nope"?>',
            ]
        )
    )
    doc = (
        f"{decl}<{tag}><RETURN_STATUS><ID>{status_id}</ID>"
        f"<DESCRIPTION>{description}</DESCRIPTION></RETURN_STATUS>{body}</{tag}>"
    ).encode()
    return draw(mutated(doc)) if draw(st.booleans()) else doc


def _decode(body: bytes) -> ET.Element | None:
    try:
        root = codec.decode_response(body, trans=TRANS, device="p.mcu")
    except McuControlError:
        return None
    assert root.tag == f"RESPONSE_{TRANS}"
    return root


def _parse_all(root: ET.Element) -> None:
    for parse in (codec.parse_login, codec.parse_new_id):
        with contextlib.suppress(McuControlError):
            parse(root, device="p.mcu")
    codec.parse_time(root)
    assert isinstance(codec.parse_health(root, root), Health)
    token, _changed, confs = codec.parse_conf_list(root)
    assert token is None or isinstance(token, int)
    assert all(c.unique_id is None or c.unique_id >= 0 for c in confs)
    for ident, party in codec.parse_parties(root, "conf"):
        assert isinstance(ident, int)
        assert party.conference == "conf"


@given(st.binary(max_size=400))
def test_any_bytes_decode_or_raise_tree_error(body: bytes) -> None:
    _decode(body)


@given(answers())
def test_near_valid_answers_parse_or_raise_tree_error(body: bytes) -> None:
    root = _decode(body)
    if root is not None:
        _parse_all(root)
