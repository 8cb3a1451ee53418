"""Codec contract: every registered Codec driver against its simulator, one suite.

A codec's contract is reachability: `ping()` never raises and says reachable (with a round
trip) or why not; `health()` is OK when reachable and raises the error of its meaning when not,
naming the device, within the driver's timeout.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from devices.errors import DeviceTimeoutError, TransportError
from devices.health import HealthState
from devices.interfaces import Codec
from drivers.registry import keys
from drivers.sip.driver import H323Codec, SipCodec
from hil.contract import codec_read_only
from hil.sim.sip import H323Sim, SipResponder

pytestmark = pytest.mark.usefixtures("_no_leftover_tasks")

NAME = "contract.codec"
TIMEOUT_S = 0.4
#: contract rows per registered driver key (tests/contract/test_registry.py checks coverage)
ROWS: dict[str, list[str]] = {"sip": ["sip-udp", "sip-tcp"], "h323": ["h323"]}
KINDS = [row for key in keys("Codec") for row in ROWS.get(key, [])]


@dataclass
class Rig:
    kind: str
    sim: Any
    codec: Codec


def _codec(kind: str, port: int) -> Codec:
    if kind == "h323":
        return H323Codec(NAME, host="127.0.0.1", port=port, timeout_s=TIMEOUT_S)
    transport: Literal["udp", "tcp"] = "tcp" if kind == "sip-tcp" else "udp"
    return SipCodec(NAME, host="127.0.0.1", port=port, transport=transport, timeout_s=TIMEOUT_S)


@pytest.fixture(params=KINDS)
async def rig(request: pytest.FixtureRequest, _no_leftover_tasks: None) -> AsyncIterator[Rig]:
    kind: str = request.param
    sim: Any = (
        H323Sim()
        if kind == "h323"
        else SipResponder(transport="tcp" if kind == "sip-tcp" else "udp")
    )
    await sim.start()
    try:
        yield Rig(kind, sim, _codec(kind, sim.port))
    finally:
        await sim.stop()


async def test_reachable_codec_is_healthy_with_a_round_trip(rig: Rig) -> None:
    result = await rig.codec.ping()
    assert result.reachable, result.detail
    assert result.rtt_ms is not None and result.rtt_ms >= 0
    health = await rig.codec.health()
    assert health.state is HealthState.OK


async def test_nothing_listening_is_unreachable_and_a_transport_or_timeout_error(
    rig: Rig,
) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    codec = _codec(rig.kind, port)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result = await codec.ping()
    assert not result.reachable and result.rtt_ms is None
    assert result.detail
    with pytest.raises((TransportError, DeviceTimeoutError)) as exc:
        await codec.health()
    assert exc.value.device == NAME
    assert loop.time() - t0 < 4 * TIMEOUT_S + 1.0


async def test_ping_never_raises_and_names_no_secret(rig: Rig) -> None:
    for _ in range(3):
        result = await rig.codec.ping()
        assert isinstance(result.detail, str)


async def test_the_hil_checks_hold(rig: Rig) -> None:
    """What `pytest hil --inventory` runs against a real codec, here against the simulator."""
    await codec_read_only(rig.codec)
