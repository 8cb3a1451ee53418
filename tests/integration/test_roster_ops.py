"""Rosters end to end: `schedule add --points/--groups`, `bringup --session`, the scheduler's
bring-up of a session's roster, and the roster in the session state — against the rig."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from mcu_control.audit import AuditLog
from mcu_control.runtime import OrchestratorActions, SiteHolder
from mcu_control.state import PointPhase, StateStore
from profiles import load_profile
from scheduler.calendar import Occurrence

from .conftest import fast
from .test_cli_ops import _cli

EAST = ["que-vo", "gia-binh", "luong-tai"]


def _profile(tmp_path: Path) -> Path:
    data = fast(remap_ports(demo_data()))
    for point in data["points"]:
        if point["id"] in EAST:
            point["groups"] = ["dong"]
        if point.get("mixer"):
            point["mixer"]["timeout_s"] = 5.0  # a CLI subprocess on a busy CI machine
    return write_profile(data, tmp_path)


async def test_added_session_roster_drives_bringup(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    day = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    code, _, err = await _cli(
        "schedule", "add", "them", day, "09:00", "--title", "Phiên bổ sung",
        "--points", "ha-noi", "--profile", str(path), state=tmp_path,
    )  # fmt: skip
    assert code == 3, err
    assert "ha-noi" in err and "Traceback" not in err
    code, out, err = await _cli(
        "schedule", "add", "them", day, "09:00", "--title", "Phiên bổ sung",
        "--points", "tien-du", "--groups", "dong", "--profile", str(path), "--json",
        state=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["change"]["roster"] == ["tien-du", "dong"]
    code, out, err = await _cli(
        "schedule", "list", "--from", day, "--to", day, "--profile", str(path), "--json",
        state=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    [session] = json.loads(out)["sessions"]
    assert session["roster"] == ["tien-du", "dong"]

    code, _, err = await _cli(
        "bringup", "--session", "khong-co", "--profile", str(path), state=tmp_path
    )
    assert code == 3
    assert "no session 'khong-co'" in err and "them" in err

    rig = Rig(load_profile(path), load_scenario("normal"))
    await rig.start()
    try:
        code, out, err = await _cli(
            "bringup", "--session", "them", "--profile", str(path), "--json", state=tmp_path
        )
        assert code == 0, out + err
        result = json.loads(out)
        assert {p["point"] for p in result["points"]} == {"trung-tam", "tien-du", *EAST}
        assert result["connected"] == 5
    finally:
        await rig.stop()


async def test_scheduled_bringup_uses_the_occurrence_roster(tmp_path: Path) -> None:
    loaded = load_profile(_profile(tmp_path))
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    store = StateStore()
    store.seed(loaded.profile)
    holder = SiteHolder(loaded, store, AuditLog(tmp_path / "audit.jsonl"))
    actions = OrchestratorActions(holder, tmp_path)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
    occ = Occurrence("thang", "Phiên tháng", start, start + dt.timedelta(hours=1), roster=("dong",))
    try:
        await actions.bringup(occ)
        joined = {p for p, s in store.points.items() if s.phase is PointPhase.IN_SESSION}
        assert joined == {"trung-tam", *EAST}
        assert store.session.points == ("trung-tam", *EAST)
        assert store.session.session_id == occ.key
        await actions.teardown(occ)
    finally:
        await holder.site.close()
        await rig.stop()
