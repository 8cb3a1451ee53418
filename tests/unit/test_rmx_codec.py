"""Table tests of the RMX XML codec; every vector is quoted from docs/protocols/rmx.md.

Each case names the fact (§n) it comes from; [U] marks a case where the document is silent
and the test pins what the driver assumes.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from devices.errors import (
    AlreadyExistsError,
    AuthenticationError,
    DeviceError,
    InvalidParameterError,
    NotAllowedNowError,
    NotFoundError,
    ProtocolError,
)
from devices.health import HealthState
from devices.interfaces import CallProtocol, CallState, ConferenceSpec, ParticipantSpec
from drivers.rmx import codec

DEV = "trung-tam.mcu"


def _answer(root: str, status: int, description: str, action: str = "", extra: str = "") -> bytes:
    return (
        f"<{root}><RETURN_STATUS><ID>{status}</ID><DESCRIPTION>{description}</DESCRIPTION>"
        f"<YOUR_TOKEN1>0</YOUR_TOKEN1><YOUR_TOKEN2>0</YOUR_TOKEN2>{extra}"
        f"<MESSAGE_ID>1</MESSAGE_ID></RETURN_STATUS>{action}</{root}>"
    ).encode()


def _decode(tx: codec.Transaction, body: bytes) -> codec.Answer:
    return codec.decode_response(body, tx=tx, device=DEV)


# --------------------------------------------------------------------------- §3 routing table


@pytest.mark.parametrize(
    ("tx", "trans", "root"),
    [
        (codec.LOGIN, "TRANS_MCU", "RESPONSE_TRANS_MCU"),  # §16, §19
        (codec.GET_STATE, "TRANS_MCU", "RESPONSE_TRANS_MCU"),  # §16
        (codec.GET_TIME, "TRANS_MCU", "RESPONSE_TRANS_MCU"),  # §16, §23
        (codec.GET_CARMEL_REPORT, "TRANS_RSRC_REPORT", "RESPONSE_TRANS_RSRC_REPORT"),  # §16
        (codec.GET_LS, "TRANS_CONF_LIST", "RESPONSE_TRANS_CONF_LIST"),  # §16, §25
        (codec.START, "TRANS_RES_1", "RESPONSE_TRANS_RES"),  # §10, §29
        (codec.ADD_PARTY, "TRANS_CONF_1", "RESPONSE_TRANS_CONF"),  # §10, §36
        (codec.TERMINATE_CONF, "TRANS_CONF_2", "RESPONSE_TRANS_CONF"),  # §31
        (codec.GET_CONF, "TRANS_CONF_2", "RESPONSE_TRANS_CONF"),  # §32
        (codec.DELETE_PARTY, "TRANS_CONF_2", "RESPONSE_TRANS_CONF"),  # §16, §37
        (codec.SET_CONNECT, "TRANS_CONF_2", "RESPONSE_TRANS_CONF"),  # §16, §38
        (codec.SET_AUDIO_VIDEO_MUTE, "TRANS_CONF_2", "RESPONSE_TRANS_CONF"),  # §16, §39
        (codec.START_RECORDING, "TRANS_CONF_2", "RESPONSE_TRANS_CONF"),  # §40
        (codec.STOP_RECORDING, "TRANS_CONF_2", "RESPONSE_TRANS_CONF"),  # §40
        (codec.GET_PARTY, "TRANS_PARTY", "RESPONSE_TRANS_PARTY"),  # §16: TRANS_PARTY has only GET
    ],
)
def test_transaction_table(tx: codec.Transaction, trans: str, root: str) -> None:
    assert tx.trans == trans
    assert tx.answer_root == root


def test_only_get_is_a_trans_party_action() -> None:
    # §16: "TRANS_PARTY: only GET"
    assert {t.action for t in codec.TRANSACTIONS if t.trans == "TRANS_PARTY"} == {"GET"}


# --------------------------------------------------------------------------- §2 requests


def test_login_request_shape() -> None:
    # §9 (TRANS_COMMON_PARAMS, ACTION/<action>), §18 (LOGIN fields, tokens 0)
    body = codec.encode_request(
        codec.LOGIN,
        codec.login_content(host="10.0.0.2", port=80, user="POLYCOM", password="pw"),
        tokens=codec.Tokens(),
        message_id=1,
    )
    assert body == (
        b"<?xml version='1.0' encoding='utf-8'?>\n<TRANS_MCU><TRANS_COMMON_PARAMS>"
        b"<MCU_TOKEN>0</MCU_TOKEN><MCU_USER_TOKEN>0</MCU_USER_TOKEN><MESSAGE_ID>1</MESSAGE_ID>"
        b"</TRANS_COMMON_PARAMS><ACTION><LOGIN><MCU_IP><IP>10.0.0.2</IP>"
        b"<LISTEN_PORT>80</LISTEN_PORT></MCU_IP>"
        b"<USER_NAME>POLYCOM</USER_NAME><PASSWORD>pw</PASSWORD>"
        b"<STATION_NAME>mcu-control</STATION_NAME></LOGIN></ACTION></TRANS_MCU>"
    )


@pytest.mark.parametrize(
    ("spec", "paths", "absent"),
    [
        (  # §28: PERMANENT true, no DURATION
            ConferenceSpec("TCD", numeric_id="8100", pin="1234"),
            {"NAME": "TCD", "NUMERIC_ID": "8100", "PASSWORD": "1234", "PERMANENT": "true"},
            ["DURATION"],
        ),
        (  # §28: DURATION {HOUR, MINUTE 0-59, SECOND 0-59}; TRANSFER_RATE a string of the enum
            ConferenceSpec("TCD", duration_s=5430),
            {
                "DURATION/HOUR": "1",
                "DURATION/MINUTE": "30",
                "DURATION/SECOND": "30",
                "PERMANENT": "false",
                "TRANSFER_RATE": "1920",
            },
            ["NUMERIC_ID", "PASSWORD"],
        ),
    ],
)
def test_reservation(spec: ConferenceSpec, paths: dict[str, str], absent: list[str]) -> None:
    root = ET.fromstring(
        codec.encode_request(
            codec.START, codec.reservation_content(spec), tokens=codec.Tokens(), message_id=1
        )
    )
    for path, value in paths.items():
        assert root.findtext(f"ACTION/START/RESERVATION/{path}") == value, path
    for path in absent:
        assert root.find(f"ACTION/START/RESERVATION/{path}") is None, path
    assert root.find("ACTION/START/RESERVATION/ENABLE_RECORDING") is None


def test_reservation_enables_recording_when_the_mcu_records() -> None:
    # §40: START_RECORDING is refused unless the conference was created with ENABLE_RECORDING
    content = codec.reservation_content(ConferenceSpec("TCD"), recording=True)
    root = ET.fromstring(
        codec.encode_request(codec.START, content, tokens=codec.Tokens(), message_id=1)
    )
    assert root.findtext("ACTION/START/RESERVATION/ENABLE_RECORDING") == "true"


@pytest.mark.parametrize(
    ("spec", "paths"),
    [
        (  # §33: SIP_ADDRESS + SIP_ADDRESS_TYPE uri_type; VIDEO_BIT_RATE "automatic"
            ParticipantSpec("tien-du", "sip:tien-du@10.20.3.10"),
            {
                "INTERFACE": "sip",
                "SIP_ADDRESS": "tien-du@10.20.3.10",
                "SIP_ADDRESS_TYPE": "uri_type",
                "VIDEO_BIT_RATE": "automatic",
            },
        ),
        (  # §33: IP for an H.323 address
            ParticipantSpec("que-vo", "10.0.0.5", CallProtocol.H323, bitrate_kbps=2048),
            {"INTERFACE": "h323", "IP": "10.0.0.5", "VIDEO_BIT_RATE": "2048"},
        ),
        (  # §34: the H.323 alias type is 323_id, not h323_id
            ParticipantSpec("gia-binh", "gia-binh.hn", CallProtocol.H323),
            {"INTERFACE": "h323", "ALIAS/NAME": "gia-binh.hn", "ALIAS/ALIAS_TYPE": "323_id"},
        ),
        (  # §34: e164 for a digits-only alias
            ParticipantSpec("luong-tai", "84241000", CallProtocol.H323),
            {"ALIAS/NAME": "84241000", "ALIAS/ALIAS_TYPE": "e164"},
        ),
    ],
)
def test_add_party(spec: ParticipantSpec, paths: dict[str, str]) -> None:
    root = ET.fromstring(
        codec.encode_request(
            codec.ADD_PARTY, codec.party_content(7, spec), tokens=codec.Tokens(), message_id=1
        )
    )
    assert root.tag == "TRANS_CONF_1"  # §16
    assert root.findtext("ACTION/ADD_PARTY/ID") == "7"
    assert root.findtext("ACTION/ADD_PARTY/PARTY/CONNECTION") == "dial_out"
    for path, value in paths.items():
        assert root.findtext(f"ACTION/ADD_PARTY/PARTY/{path}") == value, path


def test_mute_sends_video_mute_explicitly() -> None:
    # §39: an absent VIDEO_MUTE takes the value of AUDIO_MUTE [I]; so both are always sent
    root = ET.fromstring(
        codec.encode_request(
            codec.SET_AUDIO_VIDEO_MUTE,
            codec.mute_content(3, 9, audio=True, video=False),
            tokens=codec.Tokens("5", "5"),
            message_id=2,
        )
    )
    assert root.tag == "TRANS_CONF_2"
    act = root.find("ACTION/SET_AUDIO_VIDEO_MUTE")
    assert act is not None
    assert [(c.tag, c.text) for c in act] == [
        ("ID", "3"),
        ("PARTY_ID", "9"),
        ("AUDIO_MUTE", "true"),  # §44 booleans are true/false
        ("VIDEO_MUTE", "false"),
    ]


# --------------------------------------------------------------------------- §2 answers


def test_login_answer() -> None:
    # §19 (logged answer of an RMX 1800 8.6.7): tokens, VERSION_LIST, API_NUMBER, PRODUCT_TYPE
    body = _answer(
        "RESPONSE_TRANS_MCU",
        0,
        "Status OK",
        "<ACTION><LOGIN><MCU_TOKEN>41</MCU_TOKEN><MCU_USER_TOKEN>41</MCU_USER_TOKEN>"
        "<VERSION_LIST><MCU_VERSION><MAIN>8</MAIN><MAJOR>6</MAJOR><MINOR>7</MINOR>"
        "<INTERNAL>48</INTERNAL></MCU_VERSION></VERSION_LIST>"
        "<AUTHORIZATION_GROUP>administrator</AUTHORIZATION_GROUP><API_NUMBER>2000</API_NUMBER>"
        "<PRODUCT_TYPE>Rmx_1800</PRODUCT_TYPE><MCU_PRODUCT_NAME>RPCS 1800</MCU_PRODUCT_NAME>"
        "</LOGIN></ACTION>",
    )
    login = codec.parse_login(_decode(codec.LOGIN, body), device=DEV)
    assert login.tokens == codec.Tokens("41", "41")
    assert (login.product, login.version, login.api_number) == ("Rmx_1800", "8.6.7.48", "2000")
    assert login.product_name == "RPCS 1800"


def test_create_answer_root_is_response_trans_res() -> None:
    # §10, §29: TRANS_RES_1 answers RESPONSE_TRANS_RES with ACTION/START/RESERVATION/ID
    body = _answer(
        "RESPONSE_TRANS_RES",
        0,
        "Status OK",
        "<ACTION><START><RESERVATION><OBJ_TOKEN>12</OBJ_TOKEN><CHANGED>true</CHANGED>"
        "<NAME>TCD</NAME><ID>42</ID></RESERVATION></START></ACTION>",
    )
    assert codec.parse_new_id(_decode(codec.START, body), device=DEV) == 42


def test_request_root_as_answer_root_is_refused() -> None:
    # §10, §9 of the misreadings: RESPONSE_TRANS_RES_1 is not what an RMX sends
    with pytest.raises(ProtocolError) as caught:
        _decode(codec.START, _answer("RESPONSE_TRANS_RES_1", 0, "Status OK"))
    assert caught.value.device == DEV
    assert "TRANS_RES_1/START" in caught.value.message


def test_terminate_in_progress_is_success() -> None:
    # §31 (logged): <ID>1</ID><DESCRIPTION>In progress</DESCRIPTION>
    answer = _decode(codec.TERMINATE_CONF, _answer("RESPONSE_TRANS_CONF", 1, "In progress"))
    assert answer.status == 1


def test_terminate_already_terminating_is_done() -> None:
    # §31: 2503 "Terminating the conference": the end was already asked for
    answer = _decode(
        codec.TERMINATE_CONF, _answer("RESPONSE_TRANS_CONF", 2503, "Terminating the conference")
    )
    assert answer.status == 2503


def test_in_progress_is_not_success_for_other_transactions() -> None:
    # [U] status 1 is documented only for TERMINATE_CONF (§31); elsewhere it is a refusal
    with pytest.raises(DeviceError):
        _decode(codec.START, _answer("RESPONSE_TRANS_RES", 1, "In progress"))


def test_warning_means_applied() -> None:
    # §36, §14: 1069 "Participant IP alias already exists" with WARNING true: the party is added
    body = _answer(
        "RESPONSE_TRANS_CONF",
        1069,
        "Participant IP alias already exists",
        "<ACTION><ADD_PARTY><ID>17</ID></ADD_PARTY></ACTION>",
        extra="<WARNING>true</WARNING>",
    )
    answer = _decode(codec.ADD_PARTY, body)
    assert answer.warning
    assert codec.parse_new_party_id(answer, device=DEV) == 17


@pytest.mark.parametrize(
    ("tx", "code", "description", "error"),
    [
        (codec.START, 2501, "Display name already exists", AlreadyExistsError),  # §30
        (codec.START, 1178, "Conference ID is in use", AlreadyExistsError),  # §30
        (codec.START, 1002, "Maximum number of conferences exceeded", NotAllowedNowError),  # §30
        (codec.TERMINATE_CONF, 2500, "Conference name or ID does not exist", NotFoundError),  # §31
        (codec.GET_CONF, 2500, "Conference name or ID does not exist", NotFoundError),  # §32
        (codec.ADD_PARTY, 2000, "Participant name already exists", AlreadyExistsError),  # §36
        (codec.ADD_PARTY, 2002, "Participant name is missing", InvalidParameterError),  # §36
        (
            codec.ADD_PARTY,
            2506,
            "Maximum number of participants is reached",
            NotAllowedNowError,
        ),  # §36
        (codec.DELETE_PARTY, 2001, "Participant not found", NotFoundError),  # §37
        (codec.DELETE_PARTY, 65571, "Field value is missing", InvalidParameterError),  # §37
        (
            codec.SET_CONNECT,
            1074,
            "Operation cannot be performed while current operation is in progress",
            NotAllowedNowError,
        ),  # §38
        (codec.SET_AUDIO_VIDEO_MUTE, 100, "Illegal status", NotAllowedNowError),  # §39
        (
            codec.START_RECORDING,
            30011,
            "Recording is not enabled for this conference",
            NotAllowedNowError,
        ),  # §40
        (codec.LOGIN, 7003, "Invalid Login", AuthenticationError),  # §20
        (
            codec.LOGIN,
            7000,
            "A user with this login name already exists",
            NotAllowedNowError,
        ),  # §8
    ],
)
def test_status_numbers_map_by_meaning(
    tx: codec.Transaction, code: int, description: str, error: type[DeviceError]
) -> None:
    with pytest.raises(error) as caught:
        _decode(tx, _answer(tx.answer_root, code, description))
    assert type(caught.value) is error
    assert caught.value.code == code
    assert caught.value.device == DEV
    assert tx.what in caught.value.message
    assert description in caught.value.message


@pytest.mark.parametrize(
    ("code", "description", "kind", "error"),
    [
        (65561, "User not found", "set_request", AuthenticationError),  # §7, §12
        (65538, "#65538", "unknown_request", InvalidParameterError),  # §13, §15
        (65576, "Field action is missing or invalid", "set_request", InvalidParameterError),  # §15
    ],
)
def test_response_general_refusals(
    code: int, description: str, kind: str, error: type[DeviceError]
) -> None:
    # §12: root RESPONSE_GENERAL, RETURN_STATUS, then ACTION_TYPE
    body = _answer("RESPONSE_GENERAL", code, description, f"<ACTION_TYPE>{kind}</ACTION_TYPE>")
    with pytest.raises(error) as caught:
        _decode(codec.SET_CONNECT, body)
    assert caught.value.code == code
    assert codec.is_not_logged_in(caught.value) is (code == 65561)


def test_unknown_status_is_a_plain_device_error_naming_the_transaction() -> None:
    with pytest.raises(DeviceError) as caught:
        _decode(codec.GET_LS, _answer("RESPONSE_TRANS_CONF_LIST", 4242, ""))
    assert type(caught.value) is DeviceError
    assert caught.value.code == 4242
    assert "TRANS_CONF_LIST/GET_LS" in caught.value.message
    assert "#4242" in caught.value.message  # §13: a number without a string reads "#<n>"


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Login</body></html>",  # unknown root
        b"not xml at all",
        b"<RESPONSE_TRANS_MCU><NO_STATUS/></RESPONSE_TRANS_MCU>",
        b"<RESPONSE_TRANS_MCU><RETURN_STATUS><ID>x</ID></RETURN_STATUS></RESPONSE_TRANS_MCU>",
        b"<RESPONSE_GENERAL><RETURN_STATUS><ID>0</ID></RETURN_STATUS></RESPONSE_GENERAL>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><RESPONSE_TRANS_MCU/>',
    ],
)
def test_bad_answers_are_protocol_errors_naming_mcu_and_transaction(body: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        _decode(codec.GET_STATE, body)
    assert caught.value.device == DEV
    assert "TRANS_MCU/GET_STATE" in caught.value.message


# --------------------------------------------------------------------------- §5 health


def _state(state_id: int, description: str) -> codec.Answer:
    # §21, §22 (logged: <ID>1</ID><DESCRIPTION>Normal</DESCRIPTION>)
    return _decode(
        codec.GET_STATE,
        _answer(
            "RESPONSE_TRANS_MCU",
            0,
            "Status OK",
            f"<ACTION><GET_STATE><MCU_STATE><ID>{state_id}</ID>"
            f"<DESCRIPTION>{description}</DESCRIPTION><NUMBER_OF_ACTIVE_ALARMS>0"
            "</NUMBER_OF_ACTIVE_ALARMS><PRODUCT_TYPE>Rmx_1800</PRODUCT_TYPE></MCU_STATE>"
            "</GET_STATE></ACTION>",
        ),
    )


_TIME = _answer(
    "RESPONSE_TRANS_MCU",
    0,
    "Status OK",
    # §23: MCU_BASE_TIME YYYY-MM-DDThh:mm:ss (read as UTC)
    "<ACTION><GET_TIME><MCU_TIME><MCU_BASE_TIME>2026-12-10T01:00:05</MCU_BASE_TIME>"
    "<GMT_OFFSET_SIGN>+</GMT_OFFSET_SIGN><GMT_OFFSET>7</GMT_OFFSET><IS_NTP>true</IS_NTP>"
    "</MCU_TIME></GET_TIME></ACTION>",
)


def _report(total: int, occupied: int) -> codec.Answer:
    # §24: RSRC_REPORT_RMX_LIST / RSRC_REPORT_RMX { RSRC_REPORT_ITEM, TOTAL, OCCUPIED, … }
    items = "".join(
        f"<RSRC_REPORT_RMX><RSRC_REPORT_ITEM>{kind}</RSRC_REPORT_ITEM><TOTAL>{total}</TOTAL>"
        f"<OCCUPIED>{occ}</OCCUPIED><RESERVED>0</RESERVED><FREE>{total - occ}</FREE>"
        "</RSRC_REPORT_RMX>"
        for kind, occ in (("audio", 0), ("video", occupied))
    )
    return _decode(
        codec.GET_CARMEL_REPORT,
        _answer(
            "RESPONSE_TRANS_RSRC_REPORT",
            0,
            "Status OK",
            f"<ACTION><GET_CARMEL_REPORT><RSRC_REPORT_RMX_LIST>{items}"
            "<PORT_GAUGE_VALUE>80</PORT_GAUGE_VALUE></RSRC_REPORT_RMX_LIST>"
            "</GET_CARMEL_REPORT></ACTION>",
        ),
    )


def test_clock_comes_from_get_time() -> None:
    assert codec.parse_time(_decode(codec.GET_TIME, _TIME)) == dt.datetime(
        2026, 12, 10, 1, 0, 5, tzinfo=dt.UTC
    )
    assert codec.parse_time(_state(1, "Normal")) is None  # §21: GET_STATE has no clock


@pytest.mark.parametrize(
    ("state_id", "description", "occupied", "expected"),
    [
        (1, "Normal", 3, HealthState.OK),  # §22
        (4, "Minor", 3, HealthState.DEGRADED),  # §22
        (0, "Startup", 3, HealthState.DEGRADED),  # §22
        (3, "Major", 3, HealthState.DOWN),  # §22; down is the driver's reading [U]
        (8, "Critical", 3, HealthState.DOWN),  # §22
        (1, "Normal", 28, HealthState.DEGRADED),  # §24: 28 of 30 video ports in use
    ],
)
def test_health(state_id: int, description: str, occupied: int, expected: HealthState) -> None:
    now = dt.datetime(2026, 12, 10, 1, 0, 0, tzinfo=dt.UTC)
    h = codec.parse_health(
        _state(state_id, description),
        _decode(codec.GET_TIME, _TIME),
        _report(30, occupied),
        now=now,
    )
    assert h.state is expected, h
    assert h.details["mcuState"] == description
    assert h.details["videoPortsTotal"] == 30
    assert h.details["mediaLoad"] == round(100 * occupied / 30)
    assert h.details["clockOffsetS"] == 5.0


# --------------------------------------------------------------------------- §6 conferences


def test_conference_list_with_change_tracking() -> None:
    # §25–27: OBJ_TOKEN, CHANGED, CONF_SUMMARY new/update/none, DELETED_CONF_LIST/ID
    body = _answer(
        "RESPONSE_TRANS_CONF_LIST",
        0,
        "Status OK",
        "<ACTION><GET_LS><CONF_SUMMARY_LS><OBJ_TOKEN>57</OBJ_TOKEN><CHANGED>true</CHANGED>"
        "<CONF_SUMMARY><NAME>TCD</NAME><ID>3</ID><CONF_CHANGE>new</CONF_CHANGE>"
        "<NUM_PARTIES>2</NUM_PARTIES><NUMERIC_ID>8100</NUMERIC_ID></CONF_SUMMARY>"
        "<CONF_SUMMARY><ID>9</ID><CONF_CHANGE>none</CONF_CHANGE></CONF_SUMMARY>"
        "<DELETED_CONF_LIST><ID>4</ID></DELETED_CONF_LIST>"
        "</CONF_SUMMARY_LS></GET_LS></ACTION>",
    )
    ls = codec.parse_conf_list(_decode(codec.GET_LS, body))
    assert (ls.token, ls.changed) == (57, True)
    assert [(c.name, c.unique_id, c.numeric_id, c.participant_count) for c in ls.full] == [
        ("TCD", 3, "8100", 2)
    ]
    assert ls.unchanged_ids == [9]
    assert ls.deleted_ids == [4]


def test_unchanged_conference_list() -> None:
    # §26: counter not above N -> CHANGED false and no entries
    body = _answer(
        "RESPONSE_TRANS_CONF_LIST",
        0,
        "Status OK",
        "<ACTION><GET_LS><CONF_SUMMARY_LS><OBJ_TOKEN>57</OBJ_TOKEN><CHANGED>false</CHANGED>"
        "</CONF_SUMMARY_LS></GET_LS></ACTION>",
    )
    ls = codec.parse_conf_list(_decode(codec.GET_LS, body))
    assert (ls.token, ls.changed, ls.full) == (57, False, [])


# --------------------------------------------------------------------------- §8 parties


def _party(status_id: int, status: str, cause_id: int, cause: str, interface: str) -> str:
    # §41–43: ONGOING_PARTY { PARTY, ONGOING_PARTY_STATUS, DISCONNECTION_CAUSE, AUDIO_MUTE,
    # VIDEO_MUTE, VISUAL_NAME }; ALIAS_TYPE 323_id as the logged answers show (§34)
    address = (
        "<SIP_ADDRESS>a@10.0.0.1</SIP_ADDRESS>"
        if interface == "sip"
        else "<ALIAS><NAME>a.hn</NAME><ALIAS_TYPE>323_id</ALIAS_TYPE></ALIAS>"
    )
    return (
        "<ONGOING_PARTY><ONGOING_PARTY_CHANGE>new</ONGOING_PARTY_CHANGE>"
        f"<PARTY><NAME>a</NAME><ID>7</ID><INTERFACE>{interface}</INTERFACE>"
        f"<CONNECTION>dial_out</CONNECTION>{address}</PARTY>"
        f"<ONGOING_PARTY_STATUS><ID>{status_id}</ID><DESCRIPTION>{status}</DESCRIPTION>"
        f"</ONGOING_PARTY_STATUS><DISCONNECTION_CAUSE><ID>{cause_id}</ID>"
        f"<DESCRIPTION>{cause}</DESCRIPTION><DESCRIPTION_EX></DESCRIPTION_EX>"
        "</DISCONNECTION_CAUSE><CONNECT_TIME>2026-12-10T01:00:00</CONNECT_TIME>"
        "<AUDIO_MUTE>true</AUDIO_MUTE><VIDEO_MUTE>false</VIDEO_MUTE>"
        "<VISUAL_NAME>Tien Du</VISUAL_NAME></ONGOING_PARTY>"
    )


def _conference(parties: str) -> codec.Answer:
    # §32: ACTION/GET/CONFERENCE {OBJ_TOKEN, CHANGED, …, RECORDING_STATUS, ONGOING_PARTY_LIST}
    return _decode(
        codec.GET_CONF,
        _answer(
            "RESPONSE_TRANS_CONF",
            0,
            "Status OK",
            "<ACTION><GET><CONFERENCE><OBJ_TOKEN>8</OBJ_TOKEN><CHANGED>true</CHANGED>"
            f"<ONGOING_PARTY_LIST>{parties}</ONGOING_PARTY_LIST>"
            "<DELETED_PARTIES><PARTY_ID>5</PARTY_ID></DELETED_PARTIES>"
            "</CONFERENCE></GET></ACTION>",
        ),
    )


@pytest.mark.parametrize(
    ("status_id", "status", "cause_id", "cause", "interface", "state", "reason"),
    [
        (1, "connected", 0, "None", "sip", CallState.CONNECTED, None),  # §42, §43
        (10, "connected_with_problem", 0, "None", "sip", CallState.CONNECTED, None),  # §42
        (4, "connecting", 0, "None", "h323", CallState.PROCEEDING, None),  # §42
        (11, "redialing", 0, "None", "h323", CallState.PROCEEDING, None),  # §42
        (9, "stand_by", 0, "None", "sip", CallState.DORMANT, None),  # §42
        (2, "disconnected", 486, "sip_busy_here", "sip", CallState.DISCONNECTED, "busy"),  # §43
        (
            2,
            "disconnected",
            191,
            "h323_call_closed_remote_busy",
            "h323",
            CallState.DISCONNECTED,
            "busy",
        ),  # §43
        (
            2,
            "disconnected",
            258,
            "sip_remote_device_could_not_be_reached",
            "sip",
            CallState.DISCONNECTED,
            "destinationUnreachable",
        ),  # §43
        (2, "disconnected", 408, "sip_request_timeout", "sip", CallState.DISCONNECTED, "noAnswer"),
        (
            2,
            "disconnected",
            2,
            "disconnected_by_operator",
            "sip",
            CallState.DISCONNECTED,
            "localTeardown",
        ),  # §43
        (
            2,
            "disconnected",
            5,
            "resources_deficiency",
            "h323",
            CallState.DISCONNECTED,
            "portAllocationExceeded",
        ),  # §43
        (
            2,
            "disconnected",
            777,
            "some_new_cause",
            "sip",
            CallState.DISCONNECTED,
            "some_new_cause",
        ),  # unknown cause: the RMX's own word is kept
    ],
)
def test_party_states_and_causes(
    status_id: int,
    status: str,
    cause_id: int,
    cause: str,
    interface: str,
    state: CallState,
    reason: str | None,
) -> None:
    detail = codec.parse_conference(
        _conference(_party(status_id, status, cause_id, cause, interface)), "TCD"
    )
    (party,) = detail.parties
    p = party.participant
    assert party.id == 7
    assert (p.call_state, p.disconnect_reason) == (state, reason)
    assert p.audio_muted
    assert p.display_name == "Tien Du"  # §41: VISUAL_NAME
    assert p.address == ("sip:a@10.0.0.1" if interface == "sip" else "a.hn")
    assert (p.connect_time is not None) is (state is CallState.CONNECTED)
    assert detail.deleted_ids == [5]


def test_media_counters_come_from_trans_party_get() -> None:
    # §41: packet counters live only in TRANS_PARTY/GET (IP_MONITOR_CHANNELS/…/
    # NUMBER_OF_PACKETS, PACKET_LOSS); the channel layout is the logged answer's (JC)
    # [U] PACKET_LOSS is read as a count of lost packets
    def channel(kind: str, proto: str, packets: int, lost: int, wrap: str) -> str:
        param = "ADVANCED_AUDIO_PARAM" if kind.startswith("audio") else "ADVANCED_VIDEO_PARAM"
        inner = (
            f"<{param}><GLOBAL_PARAM><BASIC_PARAM><PROTOCOL>{proto}</PROTOCOL>"
            f"<CHANNEL_TYPE>{kind}</CHANNEL_TYPE></BASIC_PARAM>"
            f"<NUMBER_OF_PACKETS>{packets}</NUMBER_OF_PACKETS><LATENCY>0</LATENCY>"
            f"<PACKET_LOSS>{lost}</PACKET_LOSS></GLOBAL_PARAM></{param}>"
        )
        return f"<IP_MONITOR_CHANNEL>{f'<{wrap}>{inner}</{wrap}>' if wrap else inner}</IP_MONITOR_CHANNEL>"

    body = _answer(
        "RESPONSE_TRANS_PARTY",
        0,
        "Status OK",
        "<ACTION><GET><ONGOING_PARTY><PARTY><NAME>a</NAME><ID>7</ID></PARTY>"
        "<IP_MONITOR_CHANNELS>"
        "<IP_MONITOR_CHANNEL><BASIC_PARAM><PROTOCOL>UnknownAlgorithm</PROTOCOL>"
        "<CHANNEL_TYPE>h225</CHANNEL_TYPE></BASIC_PARAM></IP_MONITOR_CHANNEL>"
        + channel("audio_in", "g7221C_48k", 567250, 0, "ADVANCED_AUDIO_IN")
        + channel("audio_out", "g7221C_48k", 567260, 0, "")
        + channel("video_in", "h264", 1011979, 120, "ADVANCED_VIDEO_IN")
        + "</IP_MONITOR_CHANNELS></ONGOING_PARTY></GET></ACTION>",
    )
    m = codec.parse_party_media(_decode(codec.GET_PARTY, body))
    assert (m.audio_rx_codec, m.audio_rx_received, m.audio_rx_lost) == ("g7221C_48k", 567250, 0)
    assert (m.audio_tx_sent, m.video_rx_received, m.video_rx_lost) == (567260, 1011979, 120)
    assert (m.video_tx_codec, m.video_tx_sent) == ("", 0)
    assert m.rx_loss_ratio > 0


def test_conference_get_carries_no_media() -> None:
    # §41: no MEDIA_STATISTICS in ONGOING_PARTY: counters stay zero until TRANS_PARTY/GET
    detail = codec.parse_conference(_conference(_party(1, "connected", 0, "None", "sip")), "T")
    assert detail.parties[0].participant.media.audio_rx_received == 0
