"""TTP codec: reply lines from docs/protocols/tesira.md §5 → typed values; commands → bytes; Telnet refusals."""

from __future__ import annotations

import pytest

from devices.errors import ProtocolError
from drivers.tesira.codec import (
    DO,
    DONT,
    IAC,
    SB,
    SE,
    WILL,
    WONT,
    Enum,
    Err,
    LineSplitter,
    Ok,
    Publish,
    TelnetFilter,
    encode,
    parse_line,
)

REPLIES = [
    ("+OK", Ok()),
    ('+OK "value":-10.000000', Ok({"value": -10.0})),
    ('+OK "value":true', Ok({"value": True})),
    ('+OK "value":false', Ok({"value": False})),
    ('+OK "value":"4.2.0.24"', Ok({"value": "4.2.0.24"})),
    ("+OK -10.000000", Ok({"value": -10.0})),  # non-verbose session
    ("+OK true", Ok({"value": True})),
    ('+OK "value":[true false true]', Ok({"value": [True, False, True]})),
    ('+OK "value":[-1.500000 0.000000]', Ok({"value": [-1.5, 0.0]})),
    ('+OK "value":{"a":1 "b":"x"}', Ok({"value": {"a": 1, "b": "x"}})),
    (
        '+OK "time":"12:00" "number":"0912345678" "line":"2"',
        Ok({"time": "12:00", "number": "0912345678", "line": "2"}),
    ),
    (
        '+OK "value":[{"id":INDICATOR_NONE_IN_DEVICE "name":"No fault in device" "faults":[] "serialNumber":"03975123"}]',
        Ok(
            {
                "value": [
                    {
                        "id": Enum("INDICATOR_NONE_IN_DEVICE"),
                        "name": "No fault in device",
                        "faults": [],
                        "serialNumber": "03975123",
                    }
                ]
            }
        ),
    ),
    (
        '+OK "value":{"nested":{"deep":[1 [2 3] {"k":ON}]}}',
        Ok({"value": {"nested": {"deep": [1, [2, 3], {"k": Enum("ON")}]}}}),
    ),
    ('+OK "value":"say \\"hi\\""', Ok({"value": 'say "hi"'})),
    ("+OK\r", Ok()),
    (
        '-ERR address not found: {"deviceId":0 "classCode":0 "instanceNum":0}',
        Err('address not found: {"deviceId":0 "classCode":0 "instanceNum":0}'),
    ),
    (
        "-ERR Parse error at 8: verb was not one of the commands supported by Services",
        Err("Parse error at 8: verb was not one of the commands supported by Services"),
    ),
    (
        "-ERR 'Aliases' is not supported by TextSession::Attributes",
        Err("'Aliases' is not supported by TextSession::Attributes"),
    ),
    (
        "-ERR Parse error at 22: not enough parameters supplied",
        Err("Parse error at 22: not enough parameters supplied"),
    ),
    (
        "-ERR Parse error at 16: could not parse value",
        Err("Parse error at 16: could not parse value"),
    ),
    (
        '! "publishToken":"mute.mic1" "value":true',
        Publish("mute.mic1", True, {"publishToken": "mute.mic1", "value": True}),
    ),
    (
        '! "publishToken":"meter.mic2" "value":-31.400000',
        Publish("meter.mic2", -31.4, {"publishToken": "meter.mic2", "value": -31.4}),
    ),
    (
        '! "publishToken":"lv" "value":[-10.000000 -20.000000]',
        Publish("lv", [-10.0, -20.0], {"publishToken": "lv", "value": [-10.0, -20.0]}),
    ),
]


@pytest.mark.parametrize(("line", "expected"), REPLIES)
def test_reply_lines_parse_to_typed_values(line: str, expected: object) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "MicMute get mute 1",  # the echoed command
        "Welcome to the Tesira Text Protocol Server...",
        "",
        "   ",
        "garbage ~#@",
    ],
)
def test_non_reply_lines_are_ignored(line: str) -> None:
    assert parse_line(line) is None


@pytest.mark.parametrize(
    "line",
    [
        '+OK "value":{"broken [~#',
        '+OK "value":[1 2',
        '+OK "value":"unterminated',
        '+OK "value":',
        '+OK "value":1 "x"',
        '! "value":true',  # push without its token
        "+OK @@@",
        '+OK "value":' + "[" * 5000,  # would overflow the stack of a naive recursive parser
    ],
)
def test_malformed_replies_are_protocol_errors(line: str) -> None:
    with pytest.raises(ProtocolError):
        parse_line(line)


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ('address not found: {"deviceId":0 "classCode":0 "instanceNum":0}', "address"),
        ("'level' is not supported by MuteInterface::Attributes", "unsupported"),
        ("Parse error at 16: could not parse value", "parse"),
        ("Index out of range", "other"),
    ],
)
def test_err_kinds(reason: str, kind: str) -> None:
    assert Err(reason).kind == kind


@pytest.mark.parametrize(
    ("template", "values", "wire"),
    [
        ("{block} get mute {index}", {"block": "MicMute", "index": 1}, b"MicMute get mute 1\n"),
        (
            "{block} set mute {index} {value}",
            {"block": "MicMute", "index": 2, "value": True},
            b"MicMute set mute 2 true\n",
        ),
        (
            "{block} set level {index} {value}",
            {"block": "Level 1", "index": 1, "value": -10.0},
            b'"Level 1" set level 1 -10\n',
        ),
        (
            "{block} set level {index} {value}",
            {"block": "L", "index": 1, "value": -12.25},
            b"L set level 1 -12.25\n",
        ),
        (
            "{block} subscribe level {index} {label} {rate_ms}",
            {"block": "Meters", "index": 2, "label": "meter.mic2", "rate_ms": 500},
            b"Meters subscribe level 2 meter.mic2 500\n",
        ),
        ("DEVICE recallPreset {value}", {"value": 1001}, b"DEVICE recallPreset 1001\n"),
    ],
)
def test_commands_encode_from_model_templates(
    template: str, values: dict[str, object], wire: bytes
) -> None:
    assert encode(template, **values) == wire  # type: ignore[arg-type]


def test_encode_rejects_line_breaks_and_missing_fields() -> None:
    with pytest.raises(ProtocolError):
        encode("{block} get mute {index}", block="A\nDEVICE reboot", index=1)
    with pytest.raises(ProtocolError):
        encode("{block} get mute {index}", block="A")


def test_telnet_filter_refuses_every_option_and_keeps_payload() -> None:
    f = TelnetFilter()
    data = bytes([IAC, WILL, 1, IAC, WILL, 3, IAC, DO, 24, IAC, DO, 31]) + b"Welcome"
    payload, answer = f.feed(data)
    assert payload == b"Welcome"
    assert answer == bytes([IAC, DONT, 1, IAC, DONT, 3, IAC, WONT, 24, IAC, WONT, 31])


def test_telnet_filter_handles_split_sequences_subnegotiation_and_escaped_iac() -> None:
    f = TelnetFilter()
    p1, a1 = f.feed(bytes([IAC]))
    p2, a2 = f.feed(bytes([DO]))
    p3, a3 = f.feed(bytes([24]) + b"ab" + bytes([IAC, SB, 24, 1, IAC, SE]) + b"c")
    p4, _ = f.feed(bytes([IAC, IAC]) + b"d")
    assert (p1, a1, p2, a2) == (b"", b"", b"", b"")
    assert p3 == b"abc"
    assert a3 == bytes([IAC, WONT, 24])
    assert p4 == bytes([IAC]) + b"d"


def test_line_splitter_joins_partial_lines_and_drops_cr() -> None:
    s = LineSplitter()
    assert s.feed(b'+OK "val') == []
    assert s.feed(b'ue":1\r\n+OK\r\n!') == ['+OK "value":1', "+OK"]
    with pytest.raises(ProtocolError):
        LineSplitter(max_line=10).feed(b"x" * 20)


def test_fuzz_number_beyond_int_digits_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="number out of range"):
        parse_line("+OK " + "9" * 5000)
