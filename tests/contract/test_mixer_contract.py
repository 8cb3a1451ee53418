"""AudioMixer contract: the same behaviour from every driver, each against its simulator.

Transports: TTP over a real pty (socat pty ⇄ simulator TCP), TTP over telnet, SNMP v2c
against snmpsim.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from devices.errors import DeviceError, DeviceTimeoutError, NotSupportedError, TransportError
from devices.health import HealthState
from devices.interfaces import AudioMixer, Capability
from devices.secrets import Secret
from drivers.registry import keys
from drivers.snmp.driver import SnmpMixer
from drivers.tesira.driver import TesiraSerialMixer, TesiraTelnetMixer
from hil.contract import mixer_control, mixer_read_only
from hil.sim.snmp_agent import SnmpAgent, v2c_get_packet
from hil.sim.tesira import TesiraSim

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "profiles" / "models"
TTP_COMMANDS: dict[str, str] = yaml.safe_load(
    (MODELS / "biamp-tesira-forte.yaml").read_text(encoding="utf-8")
)["ttp"]["commands"]
QSYS_OIDS: dict[str, Any] = yaml.safe_load(
    (MODELS / "qsc-qsys-core-110f.yaml").read_text(encoding="utf-8")
)["snmp"]
TTP_CHANNELS = {"mic1": ("MicMute", 1), "mic2": ("MicMute", 2), "out": ("ProgramLevel", 1)}
TTP_METERS = {"mic1": ("Meters", 1), "mic2": ("Meters", 2)}
SNMP_CHANNELS = {"mic1": 1, "mic2": 2, "out": 3}
COMMUNITY = "contract-community"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Rig:
    mixer: AudioMixer
    #: the mute as the device holds it, read without the driver under test
    peek_mute: Callable[[str], Awaitable[bool]]


@pytest.fixture(scope="module")
def snmp_agent() -> Iterator[SnmpAgent]:
    agent = SnmpAgent(endpoints=[("127.0.0.1", free_udp_port())], community=COMMUNITY)
    agent.start_sync()
    yield agent
    agent.stop_sync()


def _snmp_peek(agent: SnmpAgent, channel: str) -> bool:
    """The mute OID read with a hand-built GET, decoded by pyasn1: nothing of our driver."""
    from pyasn1.codec.ber import decoder  # type: ignore[import-untyped]
    from pysnmp.proto.api import v2c

    oid = QSYS_OIDS["mute"].format(index=SNMP_CHANNELS[channel])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2.0)
        s.sendto(v2c_get_packet(COMMUNITY, oid), agent.endpoints[0])
        data, _ = s.recvfrom(4096)
    message, _ = decoder.decode(data, asn1Spec=v2c.Message())
    varbinds = v2c.apiPDU.get_varbinds(v2c.apiMessage.get_pdu(message))
    return bool(int(varbinds[0][1]) == int(QSYS_OIDS["mute_on"]))


#: contract rows per registered driver key (tests/contract/test_registry.py checks coverage)
ROWS: dict[str, list[str]] = {
    "tesira-serial": ["ttp-serial-pty"],
    "tesira-telnet": ["ttp-telnet"],
    "snmp": ["snmp"],
}
KINDS = [row for key in keys("AudioMixer") for row in ROWS.get(key, [])]


@pytest.fixture(params=KINDS)
async def rig(
    request: pytest.FixtureRequest, tmp_path: Path, _no_leftover_tasks: None
) -> AsyncIterator[Rig]:
    """A mixer and its simulator; depends on the task guard so it is torn down before the check."""
    kind = request.param
    if kind == "snmp":
        agent: SnmpAgent = request.getfixturevalue("snmp_agent")
        host, port = agent.endpoints[0]
        mixer: AudioMixer = SnmpMixer(
            "contract.snmp",
            host=host,
            port=port,
            community=Secret(COMMUNITY),
            channels=SNMP_CHANNELS,
            oids=QSYS_OIDS,
            timeout_s=1.0,
            manufacturer="QSC",
            model="qsc-qsys-core-110f",
        )

        async def peek(ch: str) -> bool:
            return await asyncio.to_thread(_snmp_peek, agent, ch)

        try:
            yield Rig(mixer, peek)
        finally:
            await mixer.close()
        return

    sim = TesiraSim(transport="telnet" if kind == "ttp-telnet" else "serial-tcp")
    await sim.start()
    socat: subprocess.Popen[bytes] | None = None
    common: dict[str, Any] = {
        "commands": {**TTP_COMMANDS},
        "channels": TTP_CHANNELS,
        "meters": TTP_METERS,
        "timeout_s": 1.0,
    }
    if kind == "ttp-telnet":
        mixer = TesiraTelnetMixer("contract.telnet", host="127.0.0.1", port=sim.port, **common)
    else:
        if shutil.which("socat") is None:
            await sim.stop()
            pytest.skip("socat is not installed")
        link = tmp_path / "ttyTESIRA"
        socat = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={link}", f"tcp:127.0.0.1:{sim.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if link.exists():
                break
            await asyncio.sleep(0.02)
        mixer = TesiraSerialMixer("contract.serial", url=str(link), baudrate=115200, **common)

    async def peek_ttp(ch: str) -> bool:
        block, index = TTP_CHANNELS[ch]
        return sim.blocks[block].mute[index - 1]

    try:
        yield Rig(mixer, peek_ttp)
    finally:
        await mixer.close()
        await sim.stop()
        if socat is not None:
            socat.terminate()
            socat.wait(timeout=5)


async def test_identify_and_health(rig: Rig) -> None:
    info = await rig.mixer.identify()
    assert info.firmware
    health = await rig.mixer.health()
    assert health.state is HealthState.OK, health.reason


@pytest.mark.parametrize("channel", ["mic1", "mic2", "out"])
async def test_set_mute_reaches_the_device_and_reads_back(rig: Rig, channel: str) -> None:
    for muted in (True, False, True):
        await rig.mixer.set_mute(channel, muted)
        assert await rig.mixer.get_mute(channel) is muted
        assert await rig.peek_mute(channel) is muted


async def test_toggle_returns_the_new_state(rig: Rig) -> None:
    await rig.mixer.set_mute("mic2", False)
    assert await rig.mixer.toggle_mute("mic2") is True
    assert await rig.peek_mute("mic2") is True
    assert await rig.mixer.toggle_mute("mic2") is False
    assert await rig.peek_mute("mic2") is False


async def test_level_round_trip_and_range(rig: Rig) -> None:
    assert rig.mixer.supports(Capability.MIXER_LEVEL)
    rng = await rig.mixer.level_range("out")
    assert rng.min_db < rng.max_db
    for level in (-20.0, -6.5, 0.0):
        await rig.mixer.set_level("out", level)
        assert await rig.mixer.get_level("out") == pytest.approx(level, abs=0.1)
    try:
        await rig.mixer.set_level("out", rng.max_db + 50)
    except DeviceError:
        assert await rig.mixer.get_level("out") == pytest.approx(0.0, abs=0.1)
    else:  # a DSP that clamps
        assert await rig.mixer.get_level("out") == pytest.approx(rng.max_db, abs=0.1)


async def test_meters_are_numbers_in_a_plausible_range(rig: Rig) -> None:
    assert rig.mixer.supports(Capability.MIXER_METERS)
    meters = await rig.mixer.meters()
    assert {"mic1", "mic2"} <= set(meters)
    assert all(-140.0 <= v <= 24.0 for v in meters.values())


async def test_channel_states_cover_every_channel(rig: Rig) -> None:
    await rig.mixer.set_mute("mic1", True)
    await rig.mixer.set_level("out", -10.0)
    states = {s.channel: s for s in await rig.mixer.channel_states(["mic1", "mic2", "out"])}
    assert states["mic1"].muted is True
    assert states["out"].level_db == pytest.approx(-10.0, abs=0.1)
    assert all(isinstance(s.muted, bool) for s in states.values())


async def test_unknown_channel_is_not_supported_and_names_the_device(rig: Rig) -> None:
    with pytest.raises(NotSupportedError) as exc:
        await rig.mixer.get_mute("no-such-channel")
    assert exc.value.device == rig.mixer.name


async def test_unreachable_device_fails_fast_with_a_named_error(rig: Rig) -> None:
    dead_port = free_udp_port()
    dead: AudioMixer
    if isinstance(rig.mixer, SnmpMixer):
        dead = SnmpMixer(
            "contract.dead",
            host="127.0.0.1",
            port=dead_port,
            community=Secret(COMMUNITY),
            channels=SNMP_CHANNELS,
            oids=QSYS_OIDS,
            timeout_s=0.3,
        )
    elif isinstance(rig.mixer, TesiraSerialMixer):
        dead = TesiraSerialMixer(
            "contract.dead",
            url=f"socket://127.0.0.1:{dead_port}",
            commands=TTP_COMMANDS,
            channels=TTP_CHANNELS,
            timeout_s=0.3,
        )
    else:
        dead = TesiraTelnetMixer(
            "contract.dead",
            host="127.0.0.1",
            port=dead_port,
            commands=TTP_COMMANDS,
            channels=TTP_CHANNELS,
            timeout_s=0.3,
        )
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises((DeviceTimeoutError, TransportError)) as exc:
        await dead.get_mute("mic1")
    await dead.close()
    assert loop.time() - started < 1.5
    assert exc.value.device == "contract.dead"


async def test_the_hil_checks_hold(rig: Rig) -> None:
    """What `pytest hil --inventory` runs against a real mixer, here against the simulator."""
    await mixer_read_only(rig.mixer, channels=["mic1", "mic2", "out"])
    before = await rig.peek_mute("mic2")
    await mixer_control(rig.mixer, channel="mic2")
    assert await rig.peek_mute("mic2") is before  # restored on the device
