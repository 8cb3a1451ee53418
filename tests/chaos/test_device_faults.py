"""Every device kind against every link fault: bounded failure, clear error, recovery.

One table row per (device, fault). Each case starts only that device's simulator (behind a
fault proxy when the fault is on the link), then:

1. reads the device's health once (it must answer);
2. switches the fault on and times one health read: it must fail within the device's
   deadline plus a margin, with an error of the project's tree naming the device (a codec's
   ping reports "unreachable" with a reason instead of raising, by contract); a slow answer
   *below* the deadline must succeed instead;
3. runs a DeviceSupervisor with a short interval and backoff: the store must show the device
   DOWN with a reason; the fault is switched off (or the simulator restarted on the same
   port) and the store must show it back up, with a `device-recovered` event, within a bound.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from chaos.conftest import TIMEOUT_S
from chaos.proxy import FaultProxy, Mode
from devices.errors import DeviceTimeoutError, McuControlError, ProtocolError
from devices.health import Health, HealthState
from hil.rig import Rig
from hil.scenario import load_scenario
from mcu_control.site import Site
from mcu_control.state import Change
from mcu_control.status import device_readers
from mcu_control.supervisor import Backoff, DeviceSupervisor
from profiles.loader import LoadedProfile

pytestmark = pytest.mark.chaos

T = TIMEOUT_S
#: one request deadline plus scheduling slack on a loaded machine (measured: T + 0.01 s)
FAIL_BOUND_S = T + 0.5
#: the supervisor sees the fault / the recovery within this
SUPERVISE_BOUND_S = 6.0

Fault = Literal[
    "silence", "refused", "garbage", "junk", "half_open", "drop", "slow_ok", "slow_fail"
]


@dataclass(frozen=True)
class Dev:
    id: str
    link: Literal["tcp", "udp"]
    #: faults the simulator itself can produce: fault -> {switch: value}
    native: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the answer of one health read crosses the proxy this many times (for slow_ok)
    round_trips: int = 1
    #: which chaos profile: the demo site, or the demo site with an RMX as the MCU
    profile: Literal["chaos_site_profile", "chaos_rmx_profile"] = "chaos_site_profile"
    label: str = ""
    #: what an answer of garbage must raise (the error tree's rule: garbage is a ProtocolError)
    garbage_error: type[McuControlError] = ProtocolError


DEVICES = [
    Dev(
        "trung-tam.mcu",
        "tcp",
        {"silence": {"delay_s": 30.0}, "garbage": {"malformed": True}, "drop": {"drop": True}},
    ),
    Dev(
        "trung-tam.mcu",
        "tcp",
        {"silence": {"delay_s": 30.0}, "garbage": {"malformed": True}, "drop": {"drop": True}},
        profile="chaos_rmx_profile",
        label="rmx",
    ),
    Dev(
        "trung-tam.cam1",
        "tcp",
        {"silence": {"no_reply": True}, "garbage": {"garbage": True}},
        round_trips=2,
    ),
    Dev("tien-du.cam1", "tcp", {"silence": {"no_reply": True}, "garbage": {"garbage": True}}),
    Dev("tx-tu-son.cam1", "udp", {"silence": {"no_reply": True}, "garbage": {"garbage": True}}),
    Dev(
        "trung-tam.mixer",
        "tcp",
        {"silence": {"no_reply": True}, "garbage": {"garbage": True}, "drop": {"drop": True}},
        round_trips=2,
    ),
    Dev(
        "tien-du.mixer",
        "tcp",
        {"silence": {"no_reply": True}, "garbage": {"garbage": True}, "drop": {"drop": True}},
        round_trips=2,
    ),
    # pysnmp discards a datagram it cannot decode: an agent answering garbage looks silent
    Dev("tx-tu-son.mixer", "udp", garbage_error=DeviceTimeoutError),
    Dev("trung-tam.codec", "udp", {"silence": {"silent": True}, "garbage": {"garbage": True}}),
]

TCP_ONLY = {"half_open", "drop", "junk"}
CASES = [
    pytest.param(d, f, id=f"{d.label or d.id}-{f}")
    for d in DEVICES
    for f in ("silence", "refused", "garbage", "junk", "half_open", "drop", "slow_ok", "slow_fail")
    if not (d.link == "udp" and f in TCP_ONLY)
]


@pytest.mark.parametrize(("dev", "fault"), CASES)
async def test_fault_is_bounded_and_recovered(
    request: pytest.FixtureRequest, dev: Dev, fault: Fault
) -> None:
    loaded: LoadedProfile = request.getfixturevalue(dev.profile)
    async with _device(loaded, dev, fault) as h:
        read = device_readers(h.site)[dev.id]
        first = await asyncio.wait_for(read(), 5.0)
        assert first.state is not HealthState.DOWN, first

        await h.fault_on()
        outcome, elapsed = await _timed(read)
        if fault == "slow_ok":
            assert isinstance(outcome, Health), outcome
            assert outcome.state is not HealthState.DOWN, outcome
            assert elapsed < dev.round_trips * h.delay_s + 0.5
            return
        _assert_clear_failure(dev, outcome)
        if fault in ("garbage", "junk") and not dev.id.endswith(".codec"):
            assert isinstance(outcome, dev.garbage_error), f"{dev.id} {fault}: {outcome!r}"
        assert elapsed < FAIL_BOUND_S, f"{dev.id} {fault}: failed after {elapsed:.2f} s"

        events = h.site.store.subscribe()
        sup = DeviceSupervisor(
            h.site,
            dev.id,
            read,
            interval_s=0.2,
            timeout_s=4 * T,  # a backstop only: the driver's own deadline must fire first
            backoff=Backoff(initial_s=0.1, max_s=0.4, jitter=0.0),
        )
        sup.start()
        try:
            await _until(lambda: h.site.store.devices[dev.id].health is HealthState.DOWN)
            down = h.site.store.devices[dev.id]
            assert down.reason, "a DOWN device must say why"
            assert not down.connected
            await h.fault_off()
            await _until(lambda: sup.reconnects >= 1)
            assert h.site.store.devices[dev.id].health is not HealthState.DOWN
            kinds = _drain(events)
            assert ("device-down", dev.id) in kinds
            assert ("device-recovered", dev.id) in kinds
        finally:
            await sup.stop()
            h.site.store.unsubscribe(events)


# ---------------------------------------------------------------------- harness


@dataclass
class Harness:
    site: Site
    fault_on: Callable[[], Awaitable[None]]
    fault_off: Callable[[], Awaitable[None]]
    delay_s: float = 0.0


@asynccontextmanager
async def _device(loaded: LoadedProfile, dev: Dev, fault: Fault) -> AsyncIterator[Harness]:
    """Start `dev`'s simulator (behind a proxy if the fault is on the link) and a Site."""
    rig = Rig(loaded, load_scenario("normal"))
    rig.entries = rig._build()
    entry = next(e for e in rig.entries if dev.id in e.device.split(","))
    sim: Any = entry.sim
    assert sim is not None
    native = dev.native.get(fault)
    proxy: FaultProxy | None = None
    if fault != "refused" and native is None:
        profile_port = _sim_port(sim)
        inner = _free_port(socket.SOCK_DGRAM if dev.link == "udp" else socket.SOCK_STREAM)
        _move(sim, inner)
        proxy = FaultProxy(dev.link, inner, port=profile_port)
    delay = {"slow_ok": T / 4, "slow_fail": 3 * T}.get(fault, 0.0)
    saved: dict[str, Any] = {}

    async def on() -> None:
        if fault == "refused":
            await sim.stop()
        elif native is not None:
            for key, value in native.items():
                saved[key] = getattr(sim.faults, key)
                setattr(sim.faults, key, value)
        else:
            assert proxy is not None
            proxy.delay_s = delay
            proxy.mode = _PROXY_MODE[fault]

    async def off() -> None:
        if fault == "refused":
            await sim.start()
        elif native is not None:
            for key, value in saved.items():
                setattr(sim.faults, key, value)
        else:
            assert proxy is not None
            proxy.mode = "pass"

    await sim.start()
    site = Site(loaded)
    try:
        if proxy is not None:
            await proxy.start()
        yield Harness(site, on, off, delay)
    finally:
        await site.close()
        if proxy is not None:
            await proxy.stop()
        await sim.stop()


_PROXY_MODE: dict[str, Mode] = {
    "silence": "blackhole",
    "half_open": "blackhole",  # switched on after the first read: the link is established
    "garbage": "garbage",
    "junk": "garbage",
    "drop": "drop",
    "slow_ok": "delay",
    "slow_fail": "delay",
}


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sim_port(sim: Any) -> int:
    if hasattr(sim, "endpoints"):  # snmpsim: one endpoint per SNMP mixer of the site
        return int(sim.endpoints[0][1])
    return int(sim.port)


def _move(sim: Any, port: int) -> None:
    if hasattr(sim, "endpoints"):
        sim.endpoints = [("127.0.0.1", port)]
    else:
        sim.port = port


async def _timed(read: Callable[[], Awaitable[Health]]) -> tuple[Health | Exception, float]:
    started = time.monotonic()
    try:
        outcome: Health | Exception = await asyncio.wait_for(read(), 10.0)
    except Exception as exc:  # the assertion below says which kind was expected
        outcome = exc
    return outcome, time.monotonic() - started


def _assert_clear_failure(dev: Dev, outcome: Health | Exception) -> None:
    if dev.id.endswith(".codec"):
        # a ping reports "unreachable" with a reason; it raises only on a bug
        assert isinstance(outcome, Health), repr(outcome)
        assert outcome.state is HealthState.DOWN
        assert outcome.reason
        return
    assert isinstance(outcome, McuControlError), f"{dev.id}: {outcome!r}"
    assert outcome.device == dev.id, f"error names {outcome.device!r}, not {dev.id}: {outcome}"
    assert str(outcome).startswith(f"{dev.id}: ")


async def _until(cond: Callable[[], bool], timeout_s: float = SUPERVISE_BOUND_S) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.02)


def _drain(q: asyncio.Queue[Change]) -> list[tuple[str, str]]:
    out = []
    while not q.empty():
        c = q.get_nowait()
        if c.kind == "event":
            out.append((c.key, str(c.payload.get("device"))))
    return out


async def test_the_supervisor_publishes_its_link_state_and_runs_on_connected_hooks(
    chaos_site_profile: LoadedProfile,
) -> None:
    """connecting → ready (hook) → backoff while the DSP drops the line → ready (hook) → stopped."""
    dev = next(d for d in DEVICES if d.id == "tien-du.mixer")
    async with _device(chaos_site_profile, dev, "drop") as h:
        read = device_readers(h.site)[dev.id]
        links: list[str] = []
        events = h.site.store.subscribe()
        connected: list[str] = []

        async def hook(device_id: str) -> None:
            connected.append(device_id)

        sup = DeviceSupervisor(
            h.site,
            dev.id,
            read,
            interval_s=0.1,
            timeout_s=4 * T,
            backoff=Backoff(initial_s=0.1, max_s=0.2, jitter=0.0),
            on_connected=[hook],
        )
        sup.start()
        try:
            await _until(lambda: h.site.store.devices[dev.id].link == "ready")
            assert connected == [dev.id]
            await h.fault_on()
            await _until(lambda: h.site.store.devices[dev.id].link == "backoff")
            await h.fault_off()
            await _until(lambda: h.site.store.devices[dev.id].link == "ready")
            assert connected == [dev.id, dev.id]  # the hook ran again after the reconnect
        finally:
            await sup.stop()
            while not events.empty():
                change = events.get_nowait()
                if change.kind == "device" and change.key == dev.id:
                    links.append(change.payload["link"])
            h.site.store.unsubscribe(events)
        assert h.site.store.devices[dev.id].link == "stopped"
        assert links[0] == "connecting"
        assert "backoff" in links and links[-1] == "stopped"
