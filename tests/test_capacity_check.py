"""Several MCUs per site and capacity planning in `profile check` and `schedule list`."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = "kind: mcu\nname: tiny-mcu\nmanufacturer: Test\nfamily: codian\nmax_conferences: 10\nmax_video_ports: {}\n"


def _cli(*args: str, state: Path) -> tuple[int, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MCU_CONTROL_STATE_DIR": str(state)},
    )
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else proc.stderr


def _two_small_mcus(data: dict[str, Any], tmp_path: Path, ports: int = 4) -> dict[str, Any]:
    """The demo with a host and a secondary MCU of `ports` video ports each."""
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / "tiny-mcu.yaml").write_text(TINY.format(ports), encoding="utf-8")
    host = data["points"][0]["mcu"]
    host["model"] = "tiny-mcu"
    second = copy.deepcopy(host)
    second |= {"id": "mcu-2", "host": "127.0.0.2"}
    second["conference"] = {"name": "TCD-2", "numeric_id": "8200"}
    data["mcus"] = [second]
    return data


def test_a_roster_over_the_ports_is_flagged_with_session_and_numbers(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    data = _two_small_mcus(demo_profile_data, tmp_path)
    data["points"][5]["preferred_mcu"] = "mcu-2"
    path = write_profile(data)
    assert path.parent.parent == tmp_path  # the test's models/ are searched first
    code, out = _cli("profile", "check", str(path), state=tmp_path)
    assert code == 1, out  # valid, with a warning
    assert [m["ports"] for m in out["mcus"]] == [4, 4]
    [warning] = out["capacity_warnings"]
    assert warning["path"] == "sessions.rules[0].roster"
    # 9 points + recorder + 2 link ports = 12 needed, 8 available: host takes recorder, link
    # and 2 points, mcu-2 its link and 3 points; the last 4 points of the roster are left out
    assert "'bi-thu-hang-quy'" in warning["message"]
    assert "needs 12 video ports" in warning["message"]
    assert "the MCUs have 8" in warning["message"]
    assert "4 point(s) would be left out" in warning["message"]

    code, out = _cli(
        "schedule", "list", "--profile", str(path), "--from", "2027-01-01", "--to", "2027-12-31",
        state=tmp_path,
    )  # fmt: skip
    assert code == 0, out
    session = out["sessions"][0]
    assert session["capacity"]["shortfall"] == 4
    assert (
        session["capacity"]["left_out"] == ["thuan-thanh", "gia-binh", "luong-tai", "que-vo"][-4:]
        or len(session["capacity"]["left_out"]) == 4
    )
    assert "4 left out" in session["note"]


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (
            lambda d: d["points"][2].update(preferred_mcu="mcu-9"),
            "points[2].preferred_mcu",
            "no MCU 'mcu-9'",
        ),
        (lambda d: d["mcus"][0].update(id="mcu"), "mcus[0].id", "used twice"),
        (lambda d: d["mcus"][0].update(model="khong-co"), "mcus[0].model", "unknown model"),
        (
            lambda d: d["mcus"][0].update(model="polycom-rmx-1800"),
            "mcus[0].driver",
            "rmx MCU",
        ),
    ],
)
def test_bad_mcu_references_are_located(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
    edit: Callable[[dict[str, Any]], None],
    path: str,
    words: str,
) -> None:
    data = _two_small_mcus(demo_profile_data, tmp_path, ports=40)
    edit(data)
    code, out = _cli("profile", "check", str(write_profile(data)), state=tmp_path)
    assert code == 3, out
    found = [p for p in out["problems"] if p["path"] == path]
    assert found, out["problems"]
    assert words in found[0]["message"]
