"""Table tests of the RMX XML codec: TRANS_* requests, RESPONSE_* documents, typed results."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from devices.errors import AuthenticationError, DeviceError, ProtocolError
from devices.health import HealthState
from devices.interfaces import CallProtocol, CallState, ConferenceSpec, ParticipantSpec
from drivers.rmx import codec

DEV = "trung-tam.mcu"


def test_login_request_bytes() -> None:
    body = codec.encode_request(
        "TRANS_MCU",
        "LOGIN",
        codec.login_content(host="10.0.0.2", port=80, user="POLYCOM", password="pw"),
        tokens=codec.Tokens(),
        message_id=1,
    )
    assert body == (
        b"<?xml version='1.0' encoding='utf-8'?>\n<TRANS_MCU><TRANS_COMMON_PARAMS>"
        b"<MCU_TOKEN>0</MCU_TOKEN><MCU_USER_TOKEN>0</MCU_USER_TOKEN><MESSAGE_ID>1</MESSAGE_ID>"
        b"</TRANS_COMMON_PARAMS><ACTION><LOGIN><MCU_IP><IP>10.0.0.2</IP>"
        b"<LISTEN_PORT>80</LISTEN_PORT><HOST_NAME>10.0.0.2</HOST_NAME></MCU_IP>"
        b"<USER_NAME>POLYCOM</USER_NAME><PASSWORD>pw</PASSWORD>"
        b"<STATION_NAME>mcu-control</STATION_NAME></LOGIN></ACTION></TRANS_MCU>"
    )


def test_terminate_request_carries_tokens() -> None:
    body = codec.encode_request(
        "TRANS_CONF_2",
        "TERMINATE_CONF",
        [("ID", 12)],
        tokens=codec.Tokens("111", "222"),
        message_id=9,
    )
    root = ET.fromstring(body)
    assert root.tag == "TRANS_CONF_2"
    assert root.findtext("TRANS_COMMON_PARAMS/MCU_TOKEN") == "111"
    assert root.findtext("TRANS_COMMON_PARAMS/MCU_USER_TOKEN") == "222"
    assert root.findtext("ACTION/TERMINATE_CONF/ID") == "12"


@pytest.mark.parametrize(
    ("spec", "paths"),
    [
        (
            ConferenceSpec("TCD", numeric_id="8100", pin="1234"),
            {"NAME": "TCD", "NUMERIC_ID": "8100", "PASSWORD": "1234", "PERMANENT": "true"},
        ),
        (
            ConferenceSpec("TCD", duration_s=5430),
            {
                "DURATION/HOUR": "1",
                "DURATION/MINUTE": "30",
                "DURATION/SECOND": "30",
                "PERMANENT": "false",
            },
        ),
    ],
)
def test_reservation(spec: ConferenceSpec, paths: dict[str, str]) -> None:
    root = ET.fromstring(
        codec.encode_request(
            "TRANS_RES_1",
            "START",
            codec.reservation_content(spec),
            tokens=codec.Tokens(),
            message_id=1,
        )
    )
    for path, value in paths.items():
        assert root.findtext(f"ACTION/START/RESERVATION/{path}") == value, path


@pytest.mark.parametrize(
    ("spec", "paths"),
    [
        (
            ParticipantSpec("tien-du", "sip:tien-du@10.20.3.10"),
            {
                "INTERFACE": "sip",
                "SIP_ADDRESS": "tien-du@10.20.3.10",
                "VIDEO_BIT_RATE": "automatic",
            },
        ),
        (
            ParticipantSpec("que-vo", "10.0.0.5", CallProtocol.H323, bitrate_kbps=2048),
            {"INTERFACE": "h323", "IP": "10.0.0.5", "VIDEO_BIT_RATE": "2048"},
        ),
        (
            ParticipantSpec("gia-binh", "84241000", CallProtocol.H323),
            {"INTERFACE": "h323", "ALIAS/NAME": "84241000", "ALIAS/ALIAS_TYPE": "h323_id"},
        ),
    ],
)
def test_add_party(spec: ParticipantSpec, paths: dict[str, str]) -> None:
    root = ET.fromstring(
        codec.encode_request(
            "TRANS_CONF_1",
            "ADD_PARTY",
            codec.party_content(7, spec),
            tokens=codec.Tokens(),
            message_id=1,
        )
    )
    assert root.findtext("ACTION/ADD_PARTY/ID") == "7"
    assert root.findtext("ACTION/ADD_PARTY/PARTY/CONNECTION") == "dial_out"
    for path, value in paths.items():
        assert root.findtext(f"ACTION/ADD_PARTY/PARTY/{path}") == value, path


def _status(trans: str, code: int, description: str, action: str = "") -> bytes:
    return (
        f"<?xml version='1.0' encoding='utf-8'?><RESPONSE_{trans}><RETURN_STATUS><ID>{code}</ID>"
        f"<DESCRIPTION>{description}</DESCRIPTION><MESSAGE_ID>1</MESSAGE_ID></RETURN_STATUS>"
        f"{action}</RESPONSE_{trans}>"
    ).encode()


def test_status_ok_returns_the_document() -> None:
    root = codec.decode_response(
        _status("TRANS_RES_1", 0, "Status OK", "<ACTION><START><ID>42</ID></START></ACTION>"),
        trans="TRANS_RES_1",
        device=DEV,
    )
    assert codec.parse_new_id(root, device=DEV) == 42


@pytest.mark.parametrize(
    ("code", "description", "error"),
    [
        (2, "Conference name already exists", DeviceError),
        (4, "Conference does not exist", DeviceError),
        (15, "Invalid user name or password", AuthenticationError),
        (1001, "User not authorized", AuthenticationError),
        (22, "Invalid MCU token", DeviceError),
    ],
)
def test_status_errors_keep_the_id(code: int, description: str, error: type[DeviceError]) -> None:
    with pytest.raises(error) as caught:
        codec.decode_response(_status("TRANS_X", code, description), trans="TRANS_X", device=DEV)
    assert type(caught.value) is error
    assert caught.value.code == code
    assert description in caught.value.message
    assert codec.is_token_error(caught.value) is ("token" in description)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<RESPONSE_TRANS_X><RETURN_STATUS><ID>0",
        _status("TRANS_OTHER", 0, "Status OK"),
        b"<RESPONSE_TRANS_X></RESPONSE_TRANS_X>",
        _status("TRANS_X", 0, "x").replace(b"<ID>0</ID>", b"<ID>zero</ID>"),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><RESPONSE_TRANS_X/>',
    ],
)
def test_garbage_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        codec.decode_response(body, trans="TRANS_X", device=DEV)
    assert caught.value.device == DEV


def test_login_response() -> None:
    root = codec.decode_response(
        _status(
            "TRANS_MCU",
            0,
            "Status OK",
            "<ACTION><LOGIN><MCU_TOKEN>5</MCU_TOKEN><MCU_USER_TOKEN>6</MCU_USER_TOKEN>"
            "<VERSION_LIST><MCU_VERSION><MAIN>8</MAIN><MAJOR>7</MAJOR><MINOR>5</MINOR>"
            "</MCU_VERSION></VERSION_LIST><PRODUCT_TYPE>Rmx_1800</PRODUCT_TYPE></LOGIN></ACTION>",
        ),
        trans="TRANS_MCU",
        device=DEV,
    )
    login = codec.parse_login(root, device=DEV)
    assert login.tokens == codec.Tokens("5", "6")
    assert login.product == "Rmx_1800"
    assert login.version == "8.7.5"


@pytest.mark.parametrize(
    ("description", "reason"),
    [
        ("h323_call_closed_remote_busy", "busy"),
        ("sip_busy_here", "busy"),
        ("h323_call_closed_remote_no_answer", "noAnswer"),
        ("sip_request_timeout", "noAnswer"),
        ("sip_remote_device_could_not_be_reached", "destinationUnreachable"),
        ("disconnected_by_operator", "localTeardown"),
        ("party_hang_up", "remoteTeardown"),
        ("something_else", "something_else"),
    ],
)
def test_disconnection_causes(description: str, reason: str) -> None:
    assert codec.normalise_cause(description) == reason


PARTY_DOC = """<?xml version='1.0'?><RESPONSE_TRANS_CONF_2><RETURN_STATUS><ID>0</ID>
<DESCRIPTION>Status OK</DESCRIPTION></RETURN_STATUS><ACTION><GET><CONFERENCE>
<ONGOING_PARTY_LIST>
 <ONGOING_PARTY><PARTY><NAME>tien-du</NAME><ID>3</ID><INTERFACE>sip</INTERFACE>
  <SIP_ADDRESS>tien-du@10.20.3.10</SIP_ADDRESS></PARTY>
  <ONGOING_PARTY_STATUS><ID>2</ID><DESCRIPTION>{status}</DESCRIPTION></ONGOING_PARTY_STATUS>
  <DISCONNECTION_CAUSE><ID>0</ID><DESCRIPTION>{cause}</DESCRIPTION></DISCONNECTION_CAUSE>
  <AUDIO_MUTE>true</AUDIO_MUTE><CONNECT_TIME>2026-11-22T08:00:00</CONNECT_TIME>
  <MEDIA_STATISTICS>
   <CHANNEL><TYPE>audio_in</TYPE><CODEC>G.722</CODEC><PACKETS>90</PACKETS><LOST>10</LOST></CHANNEL>
   <CHANNEL><TYPE>video_out</TYPE><CODEC>H.264</CODEC><PACKETS>500</PACKETS><LOST>0</LOST></CHANNEL>
  </MEDIA_STATISTICS></ONGOING_PARTY>
 <ONGOING_PARTY><PARTY><NAME>que-vo</NAME><ID>4</ID><INTERFACE>h323</INTERFACE>
  <IP>10.0.0.5</IP></PARTY></ONGOING_PARTY>
</ONGOING_PARTY_LIST></CONFERENCE></GET></ACTION></RESPONSE_TRANS_CONF_2>"""


@pytest.mark.parametrize(
    ("status", "cause", "state", "reason"),
    [
        ("connected", "None", CallState.CONNECTED, None),
        ("connected_with_problem", "None", CallState.CONNECTED, None),
        ("connecting", "None", CallState.PROCEEDING, None),
        ("idle", "None", CallState.DORMANT, None),
        ("disconnected", "h323_call_closed_remote_busy", CallState.DISCONNECTED, "busy"),
        (
            "deleted_by_operator",
            "disconnected_by_operator",
            CallState.DISCONNECTED,
            "localTeardown",
        ),
    ],
)
def test_parties(status: str, cause: str, state: CallState, reason: str | None) -> None:
    body = PARTY_DOC.format(status=status, cause=cause).encode()
    root = codec.decode_response(body, trans="TRANS_CONF_2", device=DEV)
    (id1, a), (id2, b) = codec.parse_parties(root, "TCD")
    assert (id1, id2) == (3, 4)
    assert a.call_state is state
    assert a.disconnect_reason == reason
    assert a.address == "sip:tien-du@10.20.3.10"
    assert a.audio_muted
    assert a.media.audio_rx_codec == "G.722"
    assert a.media.rx_loss_ratio == pytest.approx(0.1)
    assert a.packet_loss_critical is (state is CallState.CONNECTED)  # 10 % > 5 %
    assert b.protocol is CallProtocol.H323
    assert b.address == "10.0.0.5"
    assert b.call_state is CallState.DORMANT  # no status element: tolerated


def _state_doc(mcu_state: str, fan: str, occupied: int) -> tuple[ET.Element, ET.Element]:
    state = ET.fromstring(
        f"<R><ACTION><GET_STATE><MCU_STATE><DESCRIPTION>{mcu_state}</DESCRIPTION></MCU_STATE>"
        f"<HW_STATUS><FAN>{fan}</FAN><TEMPERATURE>normal</TEMPERATURE></HW_STATUS>"
        "</GET_STATE></ACTION></R>"
    )
    report = ET.fromstring(
        "<R><RSRC_REPORT_RMX><TYPE>video</TYPE><TOTAL>30</TOTAL>"
        f"<OCCUPIED>{occupied}</OCCUPIED></RSRC_REPORT_RMX></R>"
    )
    return state, report


@pytest.mark.parametrize(
    ("mcu_state", "fan", "occupied", "expected"),
    [
        ("normal", "normal", 3, HealthState.OK),
        ("minor", "normal", 3, HealthState.DEGRADED),
        ("normal", "minor", 3, HealthState.DEGRADED),
        ("normal", "normal", 28, HealthState.DEGRADED),
        ("normal", "major", 3, HealthState.DOWN),
        ("major", "normal", 3, HealthState.DOWN),
        ("shutting_down", "normal", 0, HealthState.DOWN),
    ],
)
def test_health(mcu_state: str, fan: str, occupied: int, expected: HealthState) -> None:
    state, report = _state_doc(mcu_state, fan, occupied)
    h = codec.parse_health(state, report)
    assert h.state is expected
    assert h.details["videoPortsOccupied"] == occupied


# --------------------------------------------------------------------------- fuzz findings


def _ok_doc(action: str) -> bytes:
    return (
        "<RESPONSE_TRANS_CONF_1><RETURN_STATUS><ID>0</ID></RETURN_STATUS>"
        f"<ACTION>{action}</ACTION></RESPONSE_TRANS_CONF_1>"
    ).encode()


def test_fuzz_unknown_xml_encoding_is_a_protocol_error() -> None:
    body = b'<?xml version="1.0" encoding="x-nope"?>' + _ok_doc("")
    with pytest.raises(ProtocolError, match="unknown encoding"):
        codec.decode_response(body, trans="TRANS_CONF_1", device="p.mcu")


def test_fuzz_non_ascii_digits_are_not_ids() -> None:
    root = codec.decode_response(
        _ok_doc("<START><ID>²</ID></START>"), trans="TRANS_CONF_1", device="p.mcu"
    )
    with pytest.raises(ProtocolError, match="no conference ID"):
        codec.parse_new_id(root, device="p.mcu")
    listing = codec.decode_response(
        _ok_doc(
            "<GET_LS><CONF_SUMMARY_LS><OBJ_TOKEN>--5</OBJ_TOKEN>"
            "<CONF_SUMMARY><ID>٣</ID><NAME>a</NAME></CONF_SUMMARY></CONF_SUMMARY_LS></GET_LS>"
        ),
        trans="TRANS_CONF_1",
        device="p.mcu",
    )
    token, _changed, confs = codec.parse_conf_list(listing)
    assert token is None
    assert confs[0].unique_id is None
