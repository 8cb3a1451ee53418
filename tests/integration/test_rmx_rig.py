"""The session commands on an RMX-family site: the demo profile with a Polycom RMX as the MCU."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from daemon_support import run_cli

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from profiles import load_profile

from .conftest import fast

ROOT = Path(__file__).resolve().parents[2]


def rmx_demo_data() -> dict[str, Any]:
    """The demo site on free ports, its central MCU swapped for a Polycom RMX 1800."""
    data = fast(remap_ports(demo_data()))
    central = next(p for p in data["points"] if p.get("mcu"))
    central["mcu"]["driver"] = "rmx-xml"
    central["mcu"]["model"] = "polycom-rmx-1800"
    return data


async def _cli(*args: str, state: Path, timeout: float = 90) -> tuple[int, str, str]:
    return await run_cli(*args, state=state, timeout=timeout)


async def test_rmx_site_health_bringup_with_one_busy_point_and_teardown(tmp_path: Path) -> None:
    path = write_profile(rmx_demo_data(), tmp_path)
    rig = Rig(load_profile(path), load_scenario("one-point-busy"))
    await rig.start()
    try:
        code, out, err = await _cli(
            "mcu", "health", "--json", "--profile", str(path), state=tmp_path
        )
        assert code == 0, out + err
        assert json.loads(out)["state"] == "ok"

        code, out, err = await _cli("bringup", "--json", "--profile", str(path), state=tmp_path)
        assert code == 2, out + err
        report = json.loads(out)
        assert (report["connected"], report["total"]) == (8, 9)
        assert report["recording"] is True
        reasons = {p["point"]: p["reason"] for p in report["points"]}
        assert reasons["tien-du"] == "busy"

        code, out, err = await _cli("teardown", "--json", "--profile", str(path), state=tmp_path)
        assert code == 0, out + err
        result = json.loads(out)
        assert set(result["participants"].values()) == {"removed"}
        assert "recorder" in result["participants"]
    finally:
        await rig.stop()


async def test_rmx_that_records_itself_is_recording_by_its_own_status(tmp_path: Path) -> None:
    """`records_itself`: START_RECORDING, no recorder participant, proof from the MCU's status."""
    data = rmx_demo_data()
    central = next(p for p in data["points"] if p.get("mcu"))
    central["mcu"]["records_itself"] = True
    path = write_profile(data, tmp_path)
    loaded = load_profile(path)
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    try:
        code, out, err = await _cli("bringup", "--json", "--profile", str(path), state=tmp_path)
        assert code == 0, out + err
        assert json.loads(out)["recording"] is True
        mcu = await _driver(loaded)
        conf = loaded.profile.mcu.conference.name
        try:
            assert await mcu.recording_connected(conf, "recorder")  # the MCU says it records
            names = {p.name for p in await mcu.participants(conf)}
            assert "recorder" not in names  # nobody dialled the recorder
        finally:
            await mcu.close()
        audit = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
        started = [r for r in audit if r["action"] == "recording.start"]
        assert started and started[0]["data"]["via"] == "mcu"

        code, out, err = await _cli("teardown", "--json", "--profile", str(path), state=tmp_path)
        assert code == 0, out + err
        assert json.loads(out)["recording"] == "stopped"
        mcu = await _driver(loaded)
        try:
            assert not await mcu.recording_connected(conf, "recorder")
        finally:
            await mcu.close()
    finally:
        await rig.stop()


def test_records_itself_on_an_mcu_family_that_cannot_is_a_profile_error(tmp_path: Path) -> None:
    import pytest

    from devices.errors import ConfigError

    data = fast(remap_ports(demo_data()))  # the Codian demo site
    next(p for p in data["points"] if p.get("mcu"))["mcu"]["records_itself"] = True
    with pytest.raises(ConfigError) as caught:
        load_profile(write_profile(data, tmp_path))
    where = [p for p in caught.value.problems if "records_itself" in p.message]
    assert where and where[0].path.endswith("mcu"), caught.value.problems


async def _driver(loaded: Any) -> Any:
    from mcu_control.builders.mcu import build

    mcu = build(loaded)
    await mcu.connect()
    return mcu
