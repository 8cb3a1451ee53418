"""RMX XML answers: any bytes decode to an element or raise an error of the project's tree."""

from __future__ import annotations

import contextlib

import pytest
from fuzz_strategies import NASTY_NUMBER_TEXT, XML_TEXT, mutated
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import McuControlError
from devices.health import Health
from drivers.rmx import codec

pytestmark = pytest.mark.fuzz

TX = codec.ADD_PARTY
TXS = st.sampled_from(codec.TRANSACTIONS)
TAGS = st.sampled_from(
    [
        "MCU_BASE_TIME",
        "GET_TIME",
        "RSRC_REPORT_RMX_LIST",
        "RSRC_REPORT_ITEM",
        "CONF_CHANGE",
        "DELETED_CONF_LIST",
        "VISUAL_NAME",
        "IP_MONITOR_CHANNELS",
        "IP_MONITOR_CHANNEL",
        "GLOBAL_PARAM",
        "BASIC_PARAM",
        "CHANNEL_TYPE",
        "PROTOCOL",
        "NUMBER_OF_PACKETS",
        "PACKET_LOSS",
        "WARNING",
        "RECORDING_STATUS",
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
        [
            "connected",
            "disconnected",
            "Major",
            "Normal",
            "video",
            "audio_in",
            "true",
            "none",
            "2026-12-10T08:00:00",
        ]
    ),
)

#: the fixed skeleton each parser walks; the fuzzed subtree is planted at every level
SKELETON = [
    "ACTION/LOGIN",
    "ACTION/GET_STATE/MCU_STATE",
    "ACTION/GET_TIME/MCU_TIME",
    "ACTION/GET_CARMEL_REPORT/RSRC_REPORT_RMX_LIST/RSRC_REPORT_RMX",
    "ACTION/GET_LS/CONF_SUMMARY_LS",
    "ACTION/GET/CONFERENCE/ONGOING_PARTY_LIST/ONGOING_PARTY",
    "ACTION/GET/ONGOING_PARTY/IP_MONITOR_CHANNELS/IP_MONITOR_CHANNEL",
    "ACTION/START/RESERVATION",
    "ACTION/ADD_PARTY",
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
    status_id = draw(st.sampled_from(["0", "0", "1", "1069", "65561", "2500"]) | TEXTS)
    description = draw(TEXTS)
    warning = draw(st.sampled_from(["", "<WARNING>true</WARNING>", "<WARNING>x</WARNING>"]))
    body = "".join(
        _wrap(path, "".join(draw(st.lists(_element(), max_size=3))))
        for path in draw(st.lists(st.sampled_from(SKELETON), max_size=3))
    )
    tag = draw(st.sampled_from([TX.answer_root, TX.answer_root, "RESPONSE_GENERAL", "OTHER"]))
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
        f"<DESCRIPTION>{description}</DESCRIPTION>{warning}</RETURN_STATUS>{body}</{tag}>"
    ).encode()
    return draw(mutated(doc)) if draw(st.booleans()) else doc


def _decode(body: bytes, tx: codec.Transaction = TX) -> codec.Answer | None:
    error: McuControlError | None = None
    try:
        answer = codec.decode_response(body, tx=tx, device="p.mcu")
    except McuControlError as exc:
        error = exc
    if error is not None:
        assert error.device == "p.mcu"
        assert tx.what in error.message  # names the transaction
        return None
    assert answer.root.tag == tx.answer_root
    return answer


def _parse_all(answer: codec.Answer) -> None:
    for parse in (codec.parse_login, codec.parse_new_id, codec.parse_new_party_id):
        with contextlib.suppress(McuControlError):
            parse(answer, device="p.mcu")
    codec.parse_time(answer)
    assert isinstance(codec.parse_health(answer, answer, answer), Health)
    ls = codec.parse_conf_list(answer)
    assert ls.token is None or isinstance(ls.token, int)
    assert all(c.unique_id is None or c.unique_id >= 0 for c in ls.full)
    detail = codec.parse_conference(answer, "conf")
    for party in detail.parties:
        assert party.id >= 0
        assert party.participant.conference == "conf"
    media = codec.parse_party_media(answer)
    assert 0.0 <= media.rx_loss_ratio <= 1.0


@given(st.binary(max_size=400), TXS)
def test_any_bytes_decode_or_raise_tree_error(body: bytes, tx: codec.Transaction) -> None:
    _decode(body, tx)


@given(answers())
def test_near_valid_answers_parse_or_raise_tree_error(body: bytes) -> None:
    answer = _decode(body)
    if answer is not None:
        _parse_all(answer)
