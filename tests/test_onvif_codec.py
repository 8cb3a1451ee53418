"""The polled GetStatus without zeep: request envelope, digest and reply parsing (sans-IO).

Vectors: the ONVIF Application Programmer's Guide §6.1.1.3 digest example, and replies shaped
as ONVIF PTZ's `GetStatusResponse` / SOAP 1.2 `Fault` (docs/protocols/onvif.md §4, §5).
"""

from __future__ import annotations

import base64
import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from drivers.onvif import codec

# ONVIF Application Programmer's Guide, §6.1.1.3 (docs/protocols/onvif.md §5)
APG_NONCE = base64.b64decode("LKqI6G/AikKCQrN0zqZFlg==")
APG_CREATED = "2010-09-16T07:50:45Z"
APG_PASSWORD = "userpassword"
APG_DIGEST = "tuOSpGlFlIXsozq4HFNeeGeFLEI="

NS = {
    "s": codec.SOAP_ENV,
    "wsse": codec.WSSE_NS,
    "wsu": codec.WSU_NS,
    "tptz": codec.PTZ_NS,
}


def test_password_digest_is_the_programmers_guide_example() -> None:
    assert codec.password_digest(APG_NONCE, APG_CREATED, APG_PASSWORD) == APG_DIGEST


def test_created_is_utc_zulu_in_whole_seconds() -> None:
    ict = dt.timezone(dt.timedelta(hours=7))
    when = dt.datetime(2010, 9, 16, 14, 50, 45, 987654, tzinfo=ict)
    assert codec.created_stamp(when) == APG_CREATED


def test_status_request_carries_the_signed_token_and_the_profile() -> None:
    created = dt.datetime(2010, 9, 16, 7, 50, 45, tzinfo=dt.UTC)
    body = codec.status_request(
        "profile_<1>&", username="op&<x>", password=APG_PASSWORD, created=created, nonce=APG_NONCE
    )
    root = ET.fromstring(body)
    assert root.tag == f"{{{codec.SOAP_ENV}}}Envelope"
    token = root.find("s:Header/wsse:Security/wsse:UsernameToken", NS)
    assert token is not None
    assert token.findtext("wsse:Username", None, NS) == "op&<x>"
    password = token.find("wsse:Password", NS)
    assert password is not None
    assert password.get("Type") == codec.PASSWORD_DIGEST
    assert password.text == APG_DIGEST
    nonce = token.find("wsse:Nonce", NS)
    assert nonce is not None
    assert nonce.get("EncodingType") == codec.BASE64_BINARY
    assert base64.b64decode(nonce.text or "") == APG_NONCE
    assert token.findtext("wsu:Created", None, NS) == APG_CREATED
    op = root.find("s:Body/tptz:GetStatus", NS)
    assert op is not None
    assert op.findtext("tptz:ProfileToken", None, NS) == "profile_<1>&"
    assert APG_PASSWORD.encode() not in body


def _reply(inner: str, *, prefixes: bool = True) -> bytes:
    if prefixes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{codec.SOAP_ENV}" xmlns:tptz="{codec.PTZ_NS}" '
            f'xmlns:tt="{codec.SCHEMA_NS}"><SOAP-ENV:Body>{inner}</SOAP-ENV:Body>'
            "</SOAP-ENV:Envelope>"
        ).encode()
    return f'<Envelope xmlns="{codec.SOAP_ENV}"><Body>{inner}</Body></Envelope>'.encode()


MOVING = (
    "<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>"
    '<tt:PanTilt x="-0.25" y="0.5" space="http://www.onvif.org/ver10/tptz/PanTiltSpaces/'
    'PositionGenericSpace"/><tt:Zoom x="0.75"/></tt:Position>'
    "<tt:MoveStatus><tt:PanTilt>MOVING</tt:PanTilt><tt:Zoom>IDLE</tt:Zoom></tt:MoveStatus>"
    "<tt:UtcTime>2026-11-30T10:00:00Z</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>"
)


def test_a_moving_camera_is_read_with_its_position() -> None:
    status = codec.parse_status_reply(_reply(MOVING))
    assert status.moving is True
    assert status.position is not None
    assert (status.position.pan, status.position.tilt, status.position.zoom) == (-0.25, 0.5, 0.75)
    assert status.error == ""


def test_prefixes_do_not_matter_only_namespaces() -> None:
    inner = (
        f'<GetStatusResponse xmlns="{codec.PTZ_NS}"><PTZStatus>'
        f'<Position xmlns="{codec.SCHEMA_NS}"><PanTilt x="0.1" y="0.2"/></Position>'
        f'<MoveStatus xmlns="{codec.SCHEMA_NS}"><PanTilt>IDLE</PanTilt><Zoom>IDLE</Zoom>'
        f'</MoveStatus><Error xmlns="{codec.SCHEMA_NS}">motor fault</Error>'
        f'<UtcTime xmlns="{codec.SCHEMA_NS}">2026-11-30T10:00:00Z</UtcTime>'
        "</PTZStatus></GetStatusResponse>"
    )
    status = codec.parse_status_reply(_reply(inner, prefixes=False))
    assert status.moving is False
    assert status.position is not None and status.position.zoom == 0.0
    assert status.error == "motor fault"


def test_unknown_or_absent_move_status_and_position_are_not_guessed() -> None:
    unknown = (
        "<tptz:GetStatusResponse><tptz:PTZStatus><tt:MoveStatus><tt:PanTilt>UNKNOWN</tt:PanTilt>"
        "</tt:MoveStatus><tt:UtcTime>2026-11-30T10:00:00Z</tt:UtcTime></tptz:PTZStatus>"
        "</tptz:GetStatusResponse>"
    )
    status = codec.parse_status_reply(_reply(unknown))
    assert status.moving is None
    assert status.position is None


def test_a_fault_gives_its_most_specific_subcode() -> None:
    fault = (
        "<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value>"
        "<SOAP-ENV:Subcode><SOAP-ENV:Value>ter:InvalidArgVal</SOAP-ENV:Value>"
        "<SOAP-ENV:Subcode><SOAP-ENV:Value>ter:NoProfile</SOAP-ENV:Value></SOAP-ENV:Subcode>"
        "</SOAP-ENV:Subcode></SOAP-ENV:Code><SOAP-ENV:Reason>"
        '<SOAP-ENV:Text xml:lang="en">no such profile</SOAP-ENV:Text></SOAP-ENV:Reason>'
        "</SOAP-ENV:Fault>"
    )
    with pytest.raises(codec.SoapFault) as info:
        codec.parse_status_reply(_reply(fault))
    assert info.value.code == "Sender"
    assert info.value.subcodes == ("InvalidArgVal", "NoProfile")
    assert info.value.subcode == "NoProfile"
    assert info.value.reason == "no such profile"
    assert not info.value.refuses_credentials


@pytest.mark.parametrize(
    ("subcode", "reason"),
    [
        (
            "<SOAP-ENV:Subcode><SOAP-ENV:Value>ter:NotAuthorized</SOAP-ENV:Value></SOAP-ENV:Subcode>",
            "Sender not Authorized",
        ),
        ("", "The action requested requires authorization and the sender is not authorized"),
    ],
)
def test_refused_credentials_are_recognised_with_or_without_the_subcode(
    subcode: str, reason: str
) -> None:
    fault = (
        f"<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value>{subcode}"
        f"</SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text>{reason}</SOAP-ENV:Text>"
        "</SOAP-ENV:Reason></SOAP-ENV:Fault>"
    )
    with pytest.raises(codec.SoapFault) as info:
        codec.parse_status_reply(_reply(fault))
    assert info.value.refuses_credentials


@pytest.mark.parametrize(
    "body",
    [
        b"\x13\x37 this is not XML",
        b"<html><body>401</body></html>",
        # SOAP 1.1, which ONVIF does not use
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>',
        _reply("<tptz:GetPresetsResponse/>"),
        _reply(MOVING.replace('x="-0.25"', 'x="left"')),
    ],
)
def test_anything_else_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):  # the driver maps each to one error
        codec.parse_status_reply(body)
