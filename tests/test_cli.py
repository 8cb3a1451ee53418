"""The CLI as cron and technicians use it: a real subprocess, exit codes, parseable JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SITES = ROOT / "profiles" / "sites"


def mcu(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )


def test_check_bac_ninh_json_reports_nine_points_one_central() -> None:
    r = mcu("profile", "check", str(SITES / "bac-ninh.yaml"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is True
    assert out["points"] == 9
    assert out["central"] == 1
    assert out["site"]["name"] == "Tỉnh Bắc Ninh"


def test_malformed_profile_exits_3_and_names_the_field(tmp_path: Path) -> None:
    data = yaml.safe_load((SITES / "demo.yaml").read_text(encoding="utf-8"))
    data["points"][2]["cameras"][0]["port"] = 0
    (tmp_path / "sites").mkdir()
    bad = tmp_path / "sites" / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    human = mcu("profile", "check", str(bad))
    assert human.returncode == 3
    assert "points[2].cameras[0].port" in human.stderr
    assert "Traceback" not in human.stderr

    machine = mcu("--json", "profile", "check", str(bad))
    assert machine.returncode == 3
    out = json.loads(machine.stdout)
    assert out["ok"] is False
    assert out["problems"][0]["path"] == "points[2].cameras[0].port"
    assert isinstance(out["problems"][0]["line"], int)


def test_show_json_lists_every_device_without_secrets() -> None:
    r = mcu("profile", "show", str(SITES / "bac-ninh.yaml"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    ids = {d["id"] for d in out["devices"]}
    assert {"trung-tam.mcu", "trung-tam.recorder", "luong-tai.cam1", "tx-tu-son.mixer"} <= ids
    assert "MCU_PASSWORD" not in r.stdout and "password" not in r.stdout


def test_show_human_table_has_vietnamese_names() -> None:
    r = mcu(
        "profile",
        "show",
        str(SITES / "bac-ninh.yaml"),
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
    assert "Huyện Lương Tài" in r.stdout
    assert "codian-xmlrpc" in r.stdout


def test_profile_from_environment(tmp_path: Path) -> None:
    import os

    env = dict(os.environ, MCU_CONTROL_PROFILE=str(SITES / "bac-ninh.yaml"))
    r = mcu("--json", "profile", "check", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["site"]["id"] == "bac-ninh"


@pytest.mark.parametrize(
    "args", [["profile", "check", "--bogus"], ["no-such-command"], ["profile", "show", "a", "b"]]
)
def test_usage_errors_exit_3(args: list[str]) -> None:
    r = mcu(*args)
    assert r.returncode == 3
    assert "Traceback" not in r.stderr


def test_missing_profile_file_exits_3() -> None:
    r = mcu("profile", "check", "/nonexistent/profile.yaml")
    assert r.returncode == 3
    assert "does not exist" in r.stderr


def test_version() -> None:
    r = mcu("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("mcu-control 0.")


def test_hoisting_keeps_option_values() -> None:
    from cli import hoist_global_options

    argv = ["profile", "check", "x.yaml", "--json", "-p", "y.yaml", "-vv", "--", "--json"]
    assert hoist_global_options(argv) == [
        "--json",
        "-p",
        "y.yaml",
        "-vv",
        "profile",
        "check",
        "x.yaml",
        "--",
        "--json",
    ]
