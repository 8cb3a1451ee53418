"""The shipped example province: valid, regenerated from tools/gen_province.py, fits 3 MCUs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from profiles import roster
from profiles.loader import load_profile
from profiles.placement import place_roster

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "profiles" / "sites" / "example-commune-province.yaml"


def _check(path: Path) -> tuple[int, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "profile", "check", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, json.loads(proc.stdout)


def test_example_is_valid_and_marked_as_an_example() -> None:
    code, out = _check(EXAMPLE)
    assert code == 0, out
    assert out["points"] == 103
    assert out["capacity_warnings"] == []
    assert [m["id"] for m in out["mcus"]] == ["mcu", "mcu-2", "mcu-3"]
    assert EXAMPLE.read_text(encoding="utf-8").startswith("# EXAMPLE ONLY — not a real site.")


def test_example_is_what_the_generator_writes(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_province", ROOT / "tools/gen_province.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")) == gen.build()


def test_quarterly_all_communes_split_across_the_three_mcus() -> None:
    loaded = load_profile(EXAMPLE)
    p = loaded.profile
    everyone = roster.resolve(p, ["all"]).points
    plan = place_roster(p, loaded.models, everyone)
    assert plan.left_out == []
    assert {m: len(ids) for m, ids in plan.points.items()} == {"mcu": 37, "mcu-2": 37, "mcu-3": 29}
    assert plan.cascades == ["mcu-2", "mcu-3"]
    # the host keeps the recorder and a port per link: 37 + 1 + 2 = 40 ports of a 5320
    assert plan.used("mcu") == 40


def test_without_the_third_mcu_the_quarterly_session_is_flagged(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["mcus"] = data["mcus"][:1]
    for point in data["points"]:
        if point.get("preferred_mcu") == "mcu-3":
            del point["preferred_mcu"]
    (tmp_path / "sites").mkdir()
    path = tmp_path / "sites" / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, out = _check(path)
    assert code == 1, out
    [warning] = out["capacity_warnings"]
    assert warning["path"] == "sessions.rules[0].roster"
    # 103 points + recorder + 2 link ports = 106 needed; 80 ports on two 5320s
    assert "'bi-thu-hang-quy'" in warning["message"]
    assert "needs 106 video ports" in warning["message"]
    assert "the MCUs have 80" in warning["message"]
    assert "26 point(s) would be left out" in warning["message"]


def _variant(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    edit(data)
    (tmp_path / "sites").mkdir(exist_ok=True)
    path = tmp_path / "sites" / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_an_upstream_without_an_address_is_located(tmp_path: Path) -> None:
    code, out = _check(_variant(tmp_path, lambda d: d["upstream"].pop("address")))
    assert code == 3, out
    assert "upstream.address" in [p["path"] for p in out["problems"]]


def test_a_national_session_needs_the_upstream(tmp_path: Path) -> None:
    code, out = _check(_variant(tmp_path, lambda d: d.pop("upstream")))
    assert code == 3, out
    [problem] = out["problems"]
    assert problem["path"] == "sessions.rules[2].national"
    assert "'trung-uong-hang-quy'" in problem["message"] and "upstream" in problem["message"]


def test_the_national_link_takes_a_host_port(tmp_path: Path) -> None:
    """`all` with the national link: 103 points + recorder + upstream + 4 link ports = 109."""
    loaded = load_profile(EXAMPLE)
    everyone = roster.resolve(loaded.profile, ["all"]).points
    plan = place_roster(loaded.profile, loaded.models, everyone, upstream=True)
    assert (plan.needed, plan.available, plan.shortfall) == (109, 110, 0)
    assert plan.used("mcu") == 40 and len(plan.points["mcu"]) == 36
