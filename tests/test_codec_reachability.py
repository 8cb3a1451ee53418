"""Codec reachability: SIP OPTIONS codec tables, ping against the responder, H.323 connect."""

from __future__ import annotations

import asyncio
import socket

import pytest

from devices.errors import DeviceTimeoutError, ProtocolError, TransportError
from devices.health import HealthState
from drivers.sip.codec import build_options, matches, message_length, parse_response
from drivers.sip.driver import H323Codec, SipCodec
from hil.sim.sip import H323Sim, SipResponder


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ codec


def test_options_request_has_the_rfc3261_headers() -> None:
    req = build_options(
        "sip:tien-du@10.20.3.10",
        transport="udp",
        local_host="10.0.0.5",
        local_port=5062,
        call_id="abc@mcu-control",
        branch="z9hG4bKxyz",
        tag="t1",
    )
    text = req.data.decode()
    assert text.startswith("OPTIONS sip:tien-du@10.20.3.10 SIP/2.0\r\n")
    assert "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKxyz;rport\r\n" in text
    for header in (
        "Max-Forwards: 70",
        "CSeq: 1 OPTIONS",
        "Call-ID: abc@mcu-control",
        "Content-Length: 0",
    ):
        assert header + "\r\n" in text
    assert text.endswith("\r\n\r\n")
    assert build_options(
        "10.0.0.1:5060", transport="tcp", local_host="h", local_port=1
    ).data.startswith(b"OPTIONS sip:10.0.0.1:5060 SIP/2.0\r\n")


RESPONSE = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKxyz;rport=5062\r\n"
    b"i: abc@mcu-control\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Allow: INVITE,\r\n OPTIONS\r\n"
    b"Content-Length: 4\r\n\r\nbody"
)


def test_response_parse_compact_headers_folding_and_matching() -> None:
    resp = parse_response(RESPONSE)
    assert (resp.status, resp.reason, resp.final) == (200, "OK", True)
    assert resp.headers["Call-ID"] == "abc@mcu-control"
    assert resp.headers["Allow"] == "INVITE, OPTIONS"
    req = build_options(
        "sip:x",
        transport="udp",
        local_host="h",
        local_port=1,
        call_id="abc@mcu-control",
        branch="z9hG4bKxyz",
    )
    assert matches(resp, req)
    other = build_options("sip:x", transport="udp", local_host="h", local_port=1)
    assert not matches(resp, other)
    assert parse_response(b"SIP/2.0 100 Trying\r\n\r\n").final is False
    assert parse_response(b"SIP/2.0 404 Not Found\r\n\r\n").status_line == "SIP/2.0 404 Not Found"


def test_tcp_framing_by_content_length() -> None:
    assert message_length(RESPONSE[:40]) is None
    assert message_length(RESPONSE[:-2]) is None
    assert message_length(RESPONSE + b"SIP/2.0 1") == len(RESPONSE)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"\x16\x03\x01\x00",
        b"SIP/2.0 2OO OK\r\n\r\n",
        b"SIP/2.0 200 OK\r\nno colon here\r\n\r\n",
    ],
)
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_response(data)


# ------------------------------------------------------------------ ping


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("status", [200, 404])
async def test_any_final_response_means_reachable_with_rtt(transport: str, status: int) -> None:
    sim = SipResponder(transport=transport, status=status)  # type: ignore[arg-type]
    await sim.start()
    codec = SipCodec("p.codec", host="127.0.0.1", port=sim.port, transport=transport, timeout_s=1.0)  # type: ignore[arg-type]
    sim.faults.delay_s = 0.05
    try:
        result = await codec.ping()
    finally:
        await sim.stop()
    assert result.reachable, result.detail
    assert result.detail.startswith(f"SIP/2.0 {status}")
    assert result.method == f"sip-options-{transport}"
    assert result.rtt_ms is not None and 50 <= result.rtt_ms < 900
    assert sim.requests == 1


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_silence_is_unreachable_within_the_timeout(transport: str) -> None:
    sim = SipResponder(transport=transport)  # type: ignore[arg-type]
    sim.faults.silent = True
    await sim.start()
    codec = SipCodec("p.codec", host="127.0.0.1", port=sim.port, transport=transport, timeout_s=0.3)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        result = await codec.ping()
        with pytest.raises(DeviceTimeoutError) as exc:
            await codec.health()
    finally:
        await sim.stop()
    assert 0.25 < loop.time() - t0 < 1.5
    assert not result.reachable and result.rtt_ms is None
    assert "no answer" in result.detail
    assert exc.value.device == "p.codec"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_garbage_is_unreachable_with_a_clear_detail(transport: str) -> None:
    sim = SipResponder(transport=transport)  # type: ignore[arg-type]
    sim.faults.garbage = True
    await sim.start()
    codec = SipCodec("p.codec", host="127.0.0.1", port=sim.port, transport=transport, timeout_s=1.0)  # type: ignore[arg-type]
    try:
        result = await codec.ping()
    finally:
        await sim.stop()
    assert not result.reachable
    assert "not SIP" in result.detail


async def test_closed_port_is_unreachable_not_an_exception() -> None:
    tcp = SipCodec(
        "p.codec",
        host="127.0.0.1",
        port=free_port(socket.SOCK_STREAM),
        transport="tcp",
        timeout_s=0.5,
    )
    udp = SipCodec(
        "p.codec",
        host="127.0.0.1",
        port=free_port(socket.SOCK_DGRAM),
        transport="udp",
        timeout_s=0.5,
    )
    r_tcp, r_udp = await asyncio.gather(tcp.ping(), udp.ping())
    assert not r_tcp.reachable and "refused" in r_tcp.detail.lower()
    assert not r_udp.reachable  # ICMP port unreachable, or silence


async def test_healthy_codec_health_is_ok() -> None:
    sim = SipResponder()
    await sim.start()
    try:
        health = await SipCodec("p.codec", host="127.0.0.1", port=sim.port).health()
    finally:
        await sim.stop()
    assert health.state is HealthState.OK
    assert isinstance(health.details["rtt_ms"], float)


async def test_h323_connect_check() -> None:
    sim = H323Sim()
    await sim.start()
    try:
        ok = await H323Codec("p.codec", host="127.0.0.1", port=sim.port, timeout_s=1.0).ping()
    finally:
        await sim.stop()
    assert ok.reachable and ok.method == "h323-tcp" and ok.rtt_ms is not None
    assert sim.connections == 1
    down_codec = H323Codec(
        "p.codec", host="127.0.0.1", port=free_port(socket.SOCK_STREAM), timeout_s=0.5
    )
    down = await down_codec.ping()
    assert not down.reachable
    with pytest.raises(TransportError):
        await down_codec.health()


def test_fuzz_content_length_beyond_int_digits_is_a_protocol_error() -> None:
    head = b"SIP/2.0 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    with pytest.raises(ProtocolError, match="Content-Length"):
        message_length(head)
    assert message_length(b"SIP/2.0 200 OK\r\nl: 0000000\r\n\r\n") == 30
