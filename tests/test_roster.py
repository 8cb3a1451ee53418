"""Session rosters: resolution order, groups, and the profile's located problems."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devices.errors import ConfigError
from mcu_control.roster import check_names, session_roster
from profiles import roster
from profiles.loader import load_profile
from scheduler.calendar import AddedSession

ROOT = Path(__file__).resolve().parent.parent
EAST = ["que-vo", "gia-binh", "luong-tai"]


def grouped(data: dict[str, Any]) -> dict[str, Any]:
    """The demo site with groups `dong` (east) and `huyen` (every district), and two rosters."""
    for point in data["points"]:
        if point["role"] == "component":
            point["groups"] = ["huyen"] + (["dong"] if point["id"] in EAST else [])
    data["sessions"]["rules"][0]["roster"] = ["tien-du", "dong"]
    return data


def test_resolve_keeps_roster_order_central_first_each_once(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    profile = load_profile(write_profile(grouped(demo_profile_data))).profile
    got = roster.resolve(profile, ["tien-du", "dong", "gia-binh", "trung-tam"])
    assert got.points == ("trung-tam", "tien-du", "que-vo", "gia-binh", "luong-tai")
    assert got.unknown == ()
    everyone = [p.id for p in profile.points]
    assert roster.resolve(profile, ["all"]).points == tuple(everyone)
    assert roster.resolve(profile, None).points == tuple(everyone)
    assert roster.resolve(profile, ["dong", "ha-noi"]).unknown == ("ha-noi",)
    assert set(roster.resolve(profile, ["huyen"]).points) == set(everyone)


def test_session_roster_of_rules_and_added_sessions(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    import datetime as dt

    profile = load_profile(write_profile(grouped(demo_profile_data))).profile
    rule = session_roster(profile, "bi-thu-hang-quy")
    assert rule.points == ("trung-tam", "tien-du", *EAST)
    added = AddedSession("them", "Thêm", dt.date(2027, 1, 5), dt.time(9), 3600, ("tu-son",))
    with pytest.raises(ConfigError, match="tu-son"):
        session_roster(profile, "them", [added])
    names = check_names(profile, ["tx-tu-son"], ["dong"])
    ok = AddedSession("them", "Thêm", dt.date(2027, 1, 5), dt.time(9), 3600, names)
    assert session_roster(profile, "them", [ok]).points == ("trung-tam", "tx-tu-son", *EAST)
    with pytest.raises(ConfigError, match="no session 'khong-co'") as info:
        session_roster(profile, "khong-co", [ok])
    assert "them" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="group 'tay'"):
        check_names(profile, [], ["tay"])


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (
            lambda d: d["sessions"]["rules"][0].update(roster=["dong", "ha-noi"]),
            "sessions.rules[0].roster[1]",
            "no point or group 'ha-noi'",
        ),
        (
            lambda d: d["points"][3].update(groups=["huyen", "que-vo"]),
            "points[3].groups[1]",
            "has the name of a point",
        ),
        (
            lambda d: d["points"][2].update(groups=["all"]),
            "points[2].groups[0]",
            "reserved",
        ),
    ],
)
def test_profile_check_locates_bad_roster_names(
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
    edit: Callable[[dict[str, Any]], None],
    path: str,
    words: str,
) -> None:
    data = grouped(demo_profile_data)
    edit(data)
    file = write_profile(data)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "profile", "check", str(file), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    problems = json.loads(proc.stdout)["problems"]
    found = [p for p in problems if p["path"] == path]
    assert found, problems
    assert words in found[0]["message"]
    assert found[0]["line"] is not None
