"""The simulated rig for a multi-MCU profile with real-looking addresses (issue 18, point 5).

The shipped example province (103 points, 3 MCUs, an upstream link, documentation addresses
and env secrets) is localized onto 127.0.0.1, the rig serves all of it, and the MCU
simulators call each other's conferences (cascade links) — checked through the product's own
MCU drivers, over real sockets.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from devices.errors import TransportError
from devices.health import HealthState
from devices.interfaces import (
    CallState,
    ConferenceSpec,
    Mcu,
    Participant,
    ParticipantSpec,
)
from hil.genprofile import (
    DEMO_SECRET_ENV,
    demo_data,
    is_localized,
    localize,
    write_localized,
)
from hil.rig import Rig
from hil.scenario import Scenario, check_against_profile, load_scenario
from mcu_control.builders import build
from profiles import load_profile
from profiles.loader import SHIPPED_SITES, LoadedProfile
from profiles.mcu import McuConfig, cascade_dial_string
from profiles.naming import UPSTREAM_PARTICIPANT, cascade_name

os.environ.setdefault(DEMO_SECRET_ENV, "rig-secret-2026")

EXAMPLE = SHIPPED_SITES / "example-commune-province.yaml"
LOCAL = "127.0.0.1"


def example_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return data


# ---------------------------------------------------------------------- localization


def _ports(data: dict[str, Any]) -> list[tuple[str, int]]:
    """(device path, port) of every device of a localized profile, one entry per device."""
    found: list[tuple[str, int]] = []

    def device(where: str, section: dict[str, Any]) -> None:
        serial = section.get("serial")
        if serial:
            m = re.fullmatch(r"socket://127\.0\.0\.1:(\d+)", serial["port"])
            assert m, f"{where}: serial line {serial['port']!r} is not a local socket"
            found.append((where, int(m.group(1))))
        else:
            assert section["host"] == LOCAL, f"{where}: host {section['host']!r}"
            found.append((where, int(section["port"])))

    for i, point in enumerate(data["points"]):
        device(f"points[{i}].codec", point["codec"])
        for j, alt in enumerate(point["codec"].get("alternates") or []):
            found.append((f"points[{i}].codec.alternates[{j}]", int(alt["address"].split(":")[-1])))
        for j, cam in enumerate(point["cameras"]):
            device(f"points[{i}].cameras[{j}]", cam)
        for key in ("mixer", "recorder", "mcu"):
            if point.get(key):
                device(f"points[{i}].{key}", point[key])
    for i, mcu in enumerate(data.get("mcus") or []):
        device(f"mcus[{i}]", mcu)
    for where, mcu in _mcu_sections(data):
        found.append((f"{where}.cascade_address", int(mcu["cascade_address"].rsplit(":", 1)[1])))
    if data.get("upstream"):
        found.append(("upstream", int(data["upstream"]["address"].rsplit(":", 1)[1])))
    return found


def _mcu_sections(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    central = next(i for i, p in enumerate(data["points"]) if p.get("mcu"))
    out = [(f"points[{central}].mcu", data["points"][central]["mcu"])]
    return out + [(f"mcus[{i}]", m) for i, m in enumerate(data.get("mcus") or [])]


def _secret_refs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [r for item in node for r in _secret_refs(item)]
    if isinstance(node, dict):
        if node and set(node) <= {"env", "file"}:
            return [node]
        return [r for value in node.values() for r in _secret_refs(value)]
    return []


@pytest.mark.parametrize("site", ["example-commune-province", "bac-ninh"])
def test_localized_profile_is_all_local_on_ports_of_its_own(site: str, tmp_path: Path) -> None:
    original: dict[str, Any] = yaml.safe_load((SHIPPED_SITES / f"{site}.yaml").read_text("utf-8"))
    data = localize(original)
    ports = _ports(data)
    assert len(ports) >= len(original["points"])
    taken: dict[int, str] = {}
    for where, port in ports:
        assert port not in taken, f"{where} and {taken[port]} share port {port}"
        taken[port] = where
    # nothing of the original addresses survives: every SIP address dials 127.0.0.1
    text = yaml.safe_dump(data, allow_unicode=True)
    for addr in re.findall(r"sips?:[^\s'\"]+", text):
        assert f"@{LOCAL}:" in addr, addr
    assert not re.search(r"\b(?:192\.0\.2|198\.51\.100|10\.27)\.\d+", text)
    assert "example.vn" not in text
    refs = _secret_refs(data)
    assert refs and all(r == {"env": DEMO_SECRET_ENV} for r in refs)
    assert all(m["tls"] is False for _, m in _mcu_sections(data))
    assert data["mqtt"]["url"] is None
    # the product accepts it
    path = write_localized(data, tmp_path / "sites" / f"{site}.yaml")
    assert is_localized(path)
    loaded = load_profile(path)
    assert len(loaded.profile.points) == len(original["points"])
    assert loaded.profile.points[0].codec.host == LOCAL


def test_localizing_the_demo_keeps_its_ports() -> None:
    demo = demo_data()
    local = localize(demo)
    central = next(p for p in local["points"] if p.get("mcu"))
    dial = central["mcu"].pop("cascade_address")  # the only addition: the MCU's dial string
    assert dial.startswith("sip:8100@127.0.0.1:")
    assert local == demo


def test_scenario_names_mcus_and_the_upstream() -> None:
    profile = load_profile(EXAMPLE).profile
    check_against_profile(load_scenario("mcu-2-down"), profile)
    check_against_profile(load_scenario("national-down"), profile)
    bad = Scenario(name="x", devices={"trung-tam.mcu-9": {"down": True}})
    with pytest.raises(Exception, match="mcu-9"):
        check_against_profile(bad, profile)
    demo = load_profile(SHIPPED_SITES / "demo.yaml").profile
    with pytest.raises(Exception, match="upstream"):
        check_against_profile(load_scenario("national-down"), demo)


# ---------------------------------------------------------------------- the rig


@asynccontextmanager
async def example_rig(
    tmp_path: Path,
    scenario: str = "normal",
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> AsyncIterator[tuple[LoadedProfile, Rig]]:
    data = localize(example_data())
    if edit is not None:
        edit(data)
    loaded = load_profile(write_localized(data, tmp_path / "sites" / "rig.yaml"))
    scen = load_scenario(scenario)
    scen = scen.model_copy(
        update={"defaults": scen.defaults.model_copy(update={"dial_latency_s": 0.1})}
    )
    check_against_profile(scen, loaded.profile)
    rig = Rig(loaded, scen)
    await rig.start()
    try:
        yield loaded, rig
    finally:
        await rig.stop()


def _mcu_cfgs(loaded: LoadedProfile) -> dict[str, McuConfig]:
    central = loaded.profile.central
    assert central.mcu is not None
    return {m.id: m for m in [central.mcu, *loaded.profile.mcus]}


@asynccontextmanager
async def drivers(loaded: LoadedProfile) -> AsyncIterator[dict[str, Mcu]]:
    central = loaded.profile.central
    built: dict[str, Mcu] = {}
    for mcu_id, cfg in _mcu_cfgs(loaded).items():
        mcu = build("Mcu", cfg.driver, loaded, central, cfg)
        assert isinstance(mcu, Mcu)
        built[mcu_id] = mcu
    try:
        yield built
    finally:
        for mcu in built.values():
            await mcu.close()


async def _wait(
    mcu: Mcu, conference: str, pick: Callable[[list[Participant]], Participant | None]
) -> Participant:
    deadline = time.monotonic() + 8
    while True:
        found = pick(await mcu.participants(conference))
        if found is not None:
            return found
        assert time.monotonic() < deadline, await mcu.participants(conference)
        await asyncio.sleep(0.05)


def _named(name: str, *states: CallState) -> Callable[[list[Participant]], Participant | None]:
    return lambda ps: next((p for p in ps if p.name == name and p.call_state in states), None)


def _from(address: str) -> Callable[[list[Participant]], Participant | None]:
    return lambda ps: next(
        (p for p in ps if p.address == address and p.call_state is CallState.CONNECTED), None
    )


async def test_example_rig_serves_three_mcus_through_their_drivers(tmp_path: Path) -> None:
    started = time.monotonic()
    async with example_rig(tmp_path) as (loaded, rig):
        took = time.monotonic() - started
        devices = {e["device"] for e in rig.endpoints()}
        assert {"trung-tam.mcu", "trung-tam.mcu-2", "trung-tam.mcu-3", "upstream"} <= devices
        assert len(rig.entries) > 200  # 103 codecs, 110 cameras, mixers, recorder, MCUs
        async with drivers(loaded) as mcus:
            families = {}
            for mcu_id, mcu in mcus.items():
                info = await mcu.info()
                health = await mcu.health()
                assert health.state is HealthState.OK, (mcu_id, health)
                families[mcu_id] = info.model
            assert "RMX" in families["mcu-3"].upper() or "1800" in families["mcu-3"]
    # the whole example (about 210 simulators) starts in seconds, not minutes
    assert took < 30, took


async def _cascade_up(
    loaded: LoadedProfile, mcus: dict[str, Mcu], secondary: str
) -> tuple[McuConfig, McuConfig, str]:
    cfgs = _mcu_cfgs(loaded)
    host, other = cfgs["mcu"], cfgs[secondary]
    await mcus["mcu"].create_conference(
        ConferenceSpec(host.conference.name, numeric_id=host.conference.numeric_id)
    )
    await mcus[secondary].create_conference(
        ConferenceSpec(other.conference.name, numeric_id=other.conference.numeric_id)
    )
    dial = cascade_dial_string(other)
    assert dial is not None
    link = cascade_name(secondary)
    await mcus["mcu"].add_participant(host.conference.name, ParticipantSpec(link, dial))
    return host, other, link


@pytest.mark.parametrize("secondary", ["mcu-2", "mcu-3"])  # Codian and RMX on the far end
async def test_cascade_call_shows_as_dial_in_until_the_host_removes_it(
    tmp_path: Path, secondary: str
) -> None:
    async with example_rig(tmp_path) as (loaded, _rig), drivers(loaded) as mcus:
        host, other, link = await _cascade_up(loaded, mcus, secondary)
        up = await _wait(mcus["mcu"], host.conference.name, _named(link, CallState.CONNECTED))
        assert up.disconnect_reason in (None, "")
        host_dial = cascade_dial_string(host)
        assert host_dial is not None
        dial_in = await _wait(mcus[secondary], other.conference.name, _from(host_dial))
        assert dial_in.name != link  # the far end names the call itself

        await mcus["mcu"].remove_participant(host.conference.name, link)
        after = await mcus[secondary].participants(other.conference.name)
        assert not [p for p in after if p.call_state is CallState.CONNECTED], after
        if secondary == "mcu-3":  # an RMX keeps the party, disconnected by the far end [U]
            [party] = after
            assert (party.call_state, party.disconnect_reason) == (
                CallState.DISCONNECTED,
                "remoteTeardown",
            )
        else:  # a Codian drops a dial-in's record once it ends (codian.md §6.12)
            assert after == []


async def test_far_end_hanging_up_disconnects_the_host_side(tmp_path: Path) -> None:
    async with example_rig(tmp_path) as (loaded, _rig), drivers(loaded) as mcus:
        host, other, link = await _cascade_up(loaded, mcus, "mcu-2")
        await _wait(mcus["mcu"], host.conference.name, _named(link, CallState.CONNECTED))
        await mcus["mcu-2"].destroy_conference(other.conference.name)
        ended = await _wait(mcus["mcu"], host.conference.name, _named(link, CallState.DISCONNECTED))
        assert ended.disconnect_reason == "remoteTeardown"


async def test_cascade_to_a_dead_secondary_ends_unreachable(tmp_path: Path) -> None:
    async with example_rig(tmp_path, "mcu-2-down") as (loaded, rig):
        assert "mcu-2" not in rig.mcus
        assert next(e for e in rig.endpoints() if e["device"] == "trung-tam.mcu-2")["address"] == (
            "down"
        )
        async with drivers(loaded) as mcus:
            with pytest.raises(TransportError):
                await mcus["mcu-2"].info()
            cfgs = _mcu_cfgs(loaded)
            host = cfgs["mcu"]
            await mcus["mcu"].create_conference(ConferenceSpec(host.conference.name))
            dial = cascade_dial_string(cfgs["mcu-2"])
            assert dial is not None
            await mcus["mcu"].add_participant(
                host.conference.name, ParticipantSpec(cascade_name("mcu-2"), dial)
            )
            ended = await _wait(
                mcus["mcu"],
                host.conference.name,
                _named(cascade_name("mcu-2"), CallState.DISCONNECTED),
            )
            assert ended.disconnect_reason == "destinationUnreachable"


async def test_cascade_to_a_number_with_no_conference_is_rejected(tmp_path: Path) -> None:
    async with example_rig(tmp_path) as (loaded, _rig), drivers(loaded) as mcus:
        cfgs = _mcu_cfgs(loaded)
        host = cfgs["mcu"]
        await mcus["mcu"].create_conference(ConferenceSpec(host.conference.name))
        dial = cascade_dial_string(cfgs["mcu-3"])  # mcu-3 runs but has no conference yet
        assert dial is not None
        await mcus["mcu"].add_participant(host.conference.name, ParticipantSpec("lien", dial))
        ended = await _wait(
            mcus["mcu"], host.conference.name, _named("lien", CallState.DISCONNECTED)
        )
        assert ended.disconnect_reason == "rejected"


@pytest.mark.parametrize(("scenario", "reason"), [("normal", None), ("national-down", "down")])
async def test_host_dials_the_national_office(
    tmp_path: Path, scenario: str, reason: str | None
) -> None:
    async with example_rig(tmp_path, scenario) as (loaded, _rig), drivers(loaded) as mcus:
        up = loaded.profile.upstream
        assert up is not None and up.address.startswith("sip:8000@127.0.0.1:")
        host = _mcu_cfgs(loaded)["mcu"]
        await mcus["mcu"].create_conference(ConferenceSpec(host.conference.name))
        await mcus["mcu"].add_participant(
            host.conference.name, ParticipantSpec(UPSTREAM_PARTICIPANT, up.address)
        )
        want = CallState.CONNECTED if reason is None else CallState.DISCONNECTED
        got = await _wait(mcus["mcu"], host.conference.name, _named(UPSTREAM_PARTICIPANT, want))
        if reason is not None:
            assert got.disconnect_reason == "destinationUnreachable"


async def test_national_office_dials_into_the_host_conference(tmp_path: Path) -> None:
    def national_dials(data: dict[str, Any]) -> None:
        data["upstream"]["dials"] = "national"

    async with (
        example_rig(tmp_path, edit=national_dials) as (loaded, _rig),
        drivers(loaded) as mcus,
    ):
        up = loaded.profile.upstream
        assert up is not None
        host = _mcu_cfgs(loaded)["mcu"]
        await mcus["mcu"].create_conference(ConferenceSpec("khac", numeric_id="8199"))
        await mcus["mcu"].create_conference(
            ConferenceSpec(host.conference.name, numeric_id=host.conference.numeric_id)
        )
        await _wait(mcus["mcu"], host.conference.name, _from(up.address))
        assert await mcus["mcu"].participants("khac") == []  # it dials only its number


# ---------------------------------------------------------------------- the demo (acceptance)


def _only_rule(tmp_path: Path, rule_id: str, **upstream: str) -> Path:
    """The example with one session rule left, so the next session does not depend on today."""
    data = example_data()
    data["sessions"]["rules"] = [r for r in data["sessions"]["rules"] if r["id"] == rule_id]
    data["upstream"].update(upstream)
    (tmp_path / "sites").mkdir(exist_ok=True)
    path = tmp_path / "sites" / f"{rule_id}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.slow  # about 20 s: a drill and a bring-up of 103 points over 3 MCUs
async def test_demo_brings_up_the_example_across_three_mcus(tmp_path: Path) -> None:
    from daemon_support import run_cli

    code, out, err = await run_cli(
        "--json", "demo", "--once", "--profile", str(EXAMPLE), state=tmp_path, timeout=240
    )
    assert code == 0, err[-3000:]
    report = json.loads(out)
    assert report["verdict"] == "pass"
    assert report["connected"] == report["total"]
    # the next session's roster: on one MCU or several, every link it needs is up
    assert all(link["connected"] for link in report["links"]), report["links"]


@pytest.mark.slow
async def test_demo_with_a_dead_secondary_fails_only_its_points(tmp_path: Path) -> None:
    from daemon_support import run_cli

    profile = _only_rule(tmp_path, "bi-thu-hang-quy")  # every point: some are on mcu-2
    code, out, err = await run_cli(
        "--json",
        "demo",
        "--once",
        "--no-drill",
        "--scenario",
        "mcu-2-down",
        "--profile",
        str(profile),
        state=tmp_path,
        timeout=240,
    )
    assert code == 2, err[-3000:]
    report = json.loads(out)
    # mcu-2's points: those preferring it, and those mcu-3 has no port for
    on_mcu2 = set(report["placement"]["mcu-2"])
    preferring = {p["id"] for p in example_data()["points"] if p.get("preferred_mcu") == "mcu-2"}
    assert preferring <= on_mcu2
    by_point = {p["point"]: p for p in report["points"]}
    for point_id, p in by_point.items():
        if point_id in on_mcu2:
            assert p["verdict"] == "fail", p
            assert "mcu-2" in p["reason"], p
        else:
            assert p["connected"], p


# ---------------------------------------------------------------------- sim up, then other commands


async def test_sim_up_writes_a_localized_profile_other_commands_use(tmp_path: Path) -> None:
    from daemon_support import run_cli, start_cli

    written = tmp_path / "rig.yaml"
    proc = await start_cli(
        "--json",
        "--profile",
        str(EXAMPLE),
        "sim",
        "up",
        "--write-profile",
        str(written),
        state=tmp_path,
        drop=(DEMO_SECRET_ENV,),  # the rig sets it; the other command finds it by the marker
    )
    try:
        assert proc.stdout is not None
        text = ""
        async with asyncio.timeout(60):
            while True:
                chunk = await proc.stdout.read(65536)
                assert chunk, f"sim up ended: {text}"
                text += chunk.decode()
                try:
                    started = json.loads(text)
                    break
                except json.JSONDecodeError:
                    continue
        assert started["profile"] == str(written)
        devices = {e["device"]: e for e in started["endpoints"]}
        assert {"trung-tam.mcu", "trung-tam.mcu-2", "trung-tam.mcu-3", "upstream"} <= set(devices)
        assert is_localized(written)
        code, out, err = await run_cli(
            "--json",
            "mcu",
            "health",
            "--profile",
            str(written),
            state=tmp_path,
            drop=(DEMO_SECRET_ENV,),
        )
        assert code == 0, out + err
        assert json.loads(out)["state"] == "ok"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 30)


@pytest.mark.slow  # about 12 s
async def test_demo_of_a_national_session_waits_for_the_national_office_to_call(
    tmp_path: Path,
) -> None:
    from daemon_support import run_cli

    profile = _only_rule(tmp_path, "trung-uong-hang-quy", dials="national")
    code, out, err = await run_cli(
        "--json", "demo", "--once", "--profile", str(profile), state=tmp_path, timeout=240
    )
    assert code == 0, err[-3000:]
    report = json.loads(out)
    [link] = report["links"]
    assert (link["kind"], link["connected"]) == ("upstream", True), link
    assert link["address"].startswith("sip:8000@127.0.0.1:")
