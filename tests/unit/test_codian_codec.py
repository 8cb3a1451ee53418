"""Table tests of the Codian XML-RPC codec: request bytes, responses, faults, typed results."""

from __future__ import annotations

import datetime as dt
import xmlrpc.client
from typing import Any

import pytest

from devices.errors import (
    AlreadyExistsError,
    AuthenticationError,
    DeviceError,
    McuControlError,
    NotFoundError,
    NotSupportedError,
    ProtocolError,
)
from devices.health import HealthState
from devices.interfaces import CallProtocol, CallState, ConferenceSpec, ParticipantSpec
from drivers.codian import codec

DEV = "trung-tam.mcu"

DEVICE_QUERY_REQUEST = (
    b"<?xml version='1.0'?>\n<methodCall>\n<methodName>device.query</methodName>\n"
    b"<params>\n<param>\n<value><struct>\n"
    b"<member>\n<name>authenticationUser</name>\n<value><string>admin</string></value>\n</member>\n"
    b"<member>\n<name>authenticationPassword</name>\n<value><string>pw</string></value>\n</member>\n"
    b"</struct></value>\n</param>\n</params>\n</methodCall>\n"
)


def test_device_query_request_is_one_struct_with_credentials() -> None:
    assert codec.encode_call("device.query", {}, user="admin", password="pw") == (
        DEVICE_QUERY_REQUEST
    )


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("conference.create", {"conferenceName": "TCD-BacNinh", "numericId": "8100"}),
        ("participant.enumerate", {"operationScope": ["currentState", "configuredState"]}),
        ("participant.modify", {"participantName": "tiên-du", "audioRxMuted": True}),
        ("conference.enumerate", {"enumerateID": "a1b2", "lastRevision": 7, "moreThanFour": True}),
    ],
)
def test_requests_round_trip_with_auth_members(method: str, params: dict[str, Any]) -> None:
    body = codec.encode_call(method, params, user="admin", password="pw")
    (struct,), name = xmlrpc.client.loads(body)
    assert name == method
    assert struct == {**params, "authenticationUser": "admin", "authenticationPassword": "pw"}


def _response(struct: dict[str, Any]) -> bytes:
    return xmlrpc.client.dumps((struct,), methodresponse=True).encode()


def _fault(code: int, text: str) -> bytes:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, text), methodresponse=True).encode()


def test_success_response_decodes_to_struct() -> None:
    body = (
        b"<?xml version='1.0'?><methodResponse><params><param><value><struct>"
        b"<member><name>status</name><value><string>operation successful</string></value></member>"
        b"</struct></value></param></params></methodResponse>"
    )
    assert codec.decode_response(body, device=DEV, method="conference.create") == {
        "status": "operation successful"
    }


@pytest.mark.parametrize(
    ("code", "text", "error", "kept_code"),
    [
        (2, "duplicate conference name", AlreadyExistsError, 2),
        (3, "duplicate participant name", AlreadyExistsError, 3),
        (4, "no such conference or auto attendant", NotFoundError, 4),
        (5, "no such participant", NotFoundError, 5),
        (18, "duplicate numeric ID", AlreadyExistsError, 18),
        (15, "insufficient privileges", AuthenticationError, 15),
        (16, "invalid enumerateID value", DeviceError, 16),
        (201, "operation failed", DeviceError, 201),
        (14, "", DeviceError, 14),
    ],
)
def test_faults_map_to_errors_keeping_the_code(
    code: int, text: str, error: type[DeviceError], kept_code: int
) -> None:
    with pytest.raises(error) as caught:
        codec.decode_response(_fault(code, text), device=DEV, method="m.x")
    assert type(caught.value) is error
    assert caught.value.code == kept_code
    assert caught.value.device == DEV
    assert (text or codec.FAULTS[code]) in caught.value.message


def test_fault_1_is_not_supported() -> None:
    with pytest.raises(NotSupportedError):
        codec.decode_response(_fault(1, "method not supported"), device=DEV, method="x.y")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<?xml version='1.0'?><methodResponse><params><param><value><struct",
        b"<html><body>Login</body></html>",
        xmlrpc.client.dumps(("bare string",), methodresponse=True).encode(),
        b"<methodResponse><params></params></methodResponse>",
    ],
)
def test_garbage_is_a_protocol_error_naming_the_device(body: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        codec.decode_response(body, device=DEV, method="device.query")
    assert caught.value.device == DEV


def test_fault_error_is_in_the_tree() -> None:
    assert isinstance(codec.fault_error(2, "x", device=DEV, method="m"), McuControlError)
    assert codec.fault_error("junk", "", device=DEV, method="m").code == -1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (ConferenceSpec("c"), {"conferenceName": "c"}),
        (ConferenceSpec("c", duration_s=0), {"conferenceName": "c"}),
        (
            ConferenceSpec("c", numeric_id="8100", pin="1234", duration_s=5400),
            {"conferenceName": "c", "numericId": "8100", "pin": "1234", "durationSeconds": 5400},
        ),
    ],
)
def test_conference_create_params(spec: ConferenceSpec, expected: dict[str, Any]) -> None:
    assert codec.conference_create_params(spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            ParticipantSpec("tien-du", "sip:tien-du@10.20.3.10"),
            {"participantProtocol": "sip", "address": "sip:tien-du@10.20.3.10"},
        ),
        (
            ParticipantSpec(
                "que-vo", "10.0.0.5", CallProtocol.H323, bitrate_kbps=2048, defer_connection=True
            ),
            {
                "participantProtocol": "h323",
                "address": "10.0.0.5",
                "maxBitRateToMCU": 2048,
                "maxBitRateFromMCU": 2048,
                "deferConnection": True,
            },
        ),
    ],
)
def test_participant_add_params(spec: ParticipantSpec, expected: dict[str, Any]) -> None:
    params = codec.participant_add_params("TCD", spec)
    assert params == {
        "conferenceName": "TCD",
        "participantName": spec.name,
        "participantType": "by_address",
        **expected,
    }


HEALTHY = {
    "cpuLoad": 12,
    "mediaLoad": 20,
    "fanStatus": "ok",
    "temperatureStatus": "ok",
    "voltagesStatus": "ok",
    "rtcBatteryStatus": "ok",
    "operationalStatus": "active",
}


@pytest.mark.parametrize(
    ("overrides", "state"),
    [
        ({}, HealthState.OK),
        ({"fanStatus": "outOfSpec"}, HealthState.DEGRADED),
        ({"cpuLoad": 95}, HealthState.DEGRADED),
        ({"mediaLoad": 90}, HealthState.DEGRADED),
        ({"temperatureStatus": "critical"}, HealthState.DOWN),
        ({"voltagesStatus": "critical", "fanStatus": "outOfSpec"}, HealthState.DOWN),
        ({"operationalStatus": "shuttingDown"}, HealthState.DOWN),
        ({"operationalStatus": "shutDown"}, HealthState.DOWN),
    ],
)
def test_health_mapping(overrides: dict[str, Any], state: HealthState) -> None:
    h = codec.parse_health({**HEALTHY, **overrides})
    assert h.state is state
    assert h.details["cpuLoad"] == {**HEALTHY, **overrides}["cpuLoad"]


def test_device_query_maps_to_info() -> None:
    info = codec.parse_device_query(
        {
            "model": "Codian MCU 4210",
            "softwareVersion": "4.5(1.72)",
            "currentTime": dt.datetime(2026, 11, 22, 8, 0, 0),
            "serial": "SN1",
            "apiVersion": "2.9",
            "totalVideoPorts": 20,
        },
        device=DEV,
    )
    assert info.model == "Codian MCU 4210"
    assert info.current_time == dt.datetime(2026, 11, 22, 8, 0, 0, tzinfo=dt.UTC)
    assert info.total_video_ports == 20


def _entry(current: dict[str, Any]) -> dict[str, Any]:
    return {
        "participantName": "tien-du",
        "participantProtocol": "h323",
        "participantType": "by_address",
        "conferenceName": "TCD",
        "currentState": current,
        "configuredState": {"address": "10.0.0.9"},
    }


@pytest.mark.parametrize(
    ("current", "state", "reason"),
    [
        ({"callStateEx": "connected", "callState": "connected"}, CallState.CONNECTED, None),
        ({"callStateEx": "proceeding", "callState": "alerting"}, CallState.PROCEEDING, None),
        ({"callState": "alerting"}, CallState.ALERTING, None),  # pre-2.9: no callStateEx
        (
            {"callStateEx": "disconnected", "disconnectReason": "Busy"},
            CallState.DISCONNECTED,
            "busy",
        ),
        (
            {"callStateEx": "disconnected", "disconnectReason": "NOANSWER"},
            CallState.DISCONNECTED,
            "noAnswer",
        ),
        (
            {"callStateEx": "disconnected", "disconnectReason": "someNewReason"},
            CallState.DISCONNECTED,
            "someNewReason",
        ),
        ({}, CallState.DORMANT, None),
        ({"callStateEx": "weird"}, CallState.DORMANT, None),
    ],
)
def test_participant_state_and_reason(
    current: dict[str, Any], state: CallState, reason: str | None
) -> None:
    p = codec.parse_participant(_entry(current))
    assert p.call_state is state
    assert p.disconnect_reason == reason
    assert p.protocol is CallProtocol.H323
    assert p.address == "10.0.0.9"


def test_participant_media_and_flags() -> None:
    p = codec.parse_participant(
        _entry(
            {
                "callStateEx": "connected",
                "connectTime": dt.datetime(2026, 11, 22, 8, 1, 2),
                "audioRxMuted": True,
                "packetLossWarning": True,
                "packetLossCritical": False,
                "audioRxCodec": "G.722",
                "audioRxReceived": 900,
                "audioRxLost": 100,
                "videoRxReceived": 0,
                "videoTxSent": 55,
                "displayName": "Tiên Du",
            }
        )
    )
    assert p.audio_muted
    assert p.packet_loss_warning
    assert not p.packet_loss_critical
    assert p.media.audio_rx_codec == "G.722"
    assert p.media.rx_loss_ratio == pytest.approx(0.1)
    assert p.media.video_tx_sent == 55
    assert p.connect_time == dt.datetime(2026, 11, 22, 8, 1, 2, tzinfo=dt.UTC)
    assert p.display_name == "Tiên Du"


# --------------------------------------------------------------------------- fuzz findings


def _fault_doc(code_value: str) -> bytes:
    return (
        "<?xml version='1.0'?><methodResponse><fault><value><struct>"
        f"<member><name>faultCode</name><value>{code_value}</value></member>"
        "<member><name>faultString</name><value><string>x</string></value></member>"
        "</struct></value></fault></methodResponse>"
    ).encode()


def test_fuzz_infinite_fault_code_is_a_device_error_with_unknown_code() -> None:
    with pytest.raises(DeviceError) as info:
        codec.decode_response(_fault_doc("<double>inf</double>"), device=DEV, method="m")
    assert info.value.code == -1


def test_fuzz_bad_bigdecimal_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="malformed"):
        codec.decode_response(
            _fault_doc("<int>1</int>").replace(
                b"<string>x</string>", b"<bigdecimal>x</bigdecimal>"
            ),
            device=DEV,
            method="m",
        )


def test_fuzz_infinite_numbers_in_results_do_not_escape() -> None:
    with pytest.raises(ProtocolError):
        codec.parse_device_query({"totalVideoPorts": float("inf")}, device=DEV)
    p = codec.parse_participant({"currentState": {"audioRxLost": float("inf")}})
    assert p.media.audio_rx_lost == 0


def test_fuzz_non_struct_state_members_read_as_empty() -> None:
    p = codec.parse_participant({"currentState": 7, "configuredState": "x"})
    assert p.call_state is CallState.DORMANT
    assert p.address == ""
