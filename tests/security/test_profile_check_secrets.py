"""`profile check --secrets`: a missing secret is a problem (exit 3), a loose file a warning (exit 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from profiles.loader import check_secrets, load_profile

ROOT = Path(__file__).resolve().parents[2]
VALUE = "Pc7-secret-file-value-0b9e"


def mcu(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )


@pytest.fixture
def site(tmp_path: Path, demo_profile_data: dict[str, Any]) -> Path:
    """The demo profile with the MCU password in ../secrets/mcu and everything else in env."""
    data = demo_profile_data
    data["points"][0]["mcu"]["password"] = {"file": "../secrets/mcu"}
    (tmp_path / "sites").mkdir()
    (tmp_path / "secrets").mkdir()
    path = tmp_path / "sites" / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MCU_CONTROL_DEMO_SECRET"}
    return {**env, **extra}


def _secret_file(site: Path, mode: int) -> Path:
    path = site.parent.parent / "secrets" / "mcu"
    path.write_text(VALUE + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def test_all_secrets_readable_and_private_exit_0(site: Path) -> None:
    _secret_file(site, 0o600)
    r = mcu(
        "--json", "profile", "check", "--secrets", str(site), env=_env(MCU_CONTROL_DEMO_SECRET="x")
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is True
    assert out["secrets"] == {"checked": 2, "warnings": []}
    assert VALUE not in r.stdout + r.stderr


def test_world_readable_secret_file_is_a_warning_exit_1(site: Path) -> None:
    secret = _secret_file(site, 0o644)
    r = mcu(
        "--json", "profile", "check", "--secrets", str(site), env=_env(MCU_CONTROL_DEMO_SECRET="x")
    )
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is True
    [warning] = out["secrets"]["warnings"]
    assert warning["path"] == "points[0].mcu.password"
    assert warning["line"] is not None
    assert "chmod 600 " in warning["message"]
    assert Path(warning["message"].rsplit("chmod 600 ", 1)[1]).resolve() == secret
    human = mcu("profile", "check", "--secrets", str(site), env=_env(MCU_CONTROL_DEMO_SECRET="x"))
    assert human.returncode == 1
    assert "readable by group or others" in human.stderr
    assert VALUE not in r.stdout + r.stderr + human.stdout + human.stderr


def test_missing_env_and_missing_file_are_problems_exit_3(site: Path) -> None:
    r = mcu("--json", "profile", "check", "--secrets", str(site), env=_env())
    assert r.returncode == 3, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is False
    by_path = {p["path"]: p["message"] for p in out["problems"]}
    assert (
        "environment variable MCU_CONTROL_DEMO_SECRET is not set"
        in by_path["points[0].cameras[0].password"]
    )
    assert "more fields" in by_path["points[0].cameras[0].password"]  # one problem per source
    assert "cannot read secret file" in by_path["points[0].mcu.password"]
    human = mcu("profile", "check", "--secrets", str(site), env=_env())
    assert human.returncode == 3
    assert "MCU_CONTROL_DEMO_SECRET is not set" in human.stderr


def test_without_the_flag_secrets_are_not_resolved(site: Path) -> None:
    """Schema-only check for machines without the secrets (CI, a laptop): exit 0 as before."""
    r = mcu("--json", "profile", "check", str(site), env=_env())
    assert r.returncode == 0, r.stderr
    assert "secrets" not in json.loads(r.stdout)


def test_check_secrets_lists_every_reference_kind(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Camera, MCU, SNMP community and MQTT passwords are all found (by source)."""
    data = yaml.safe_load(site.read_text(encoding="utf-8"))
    data["mqtt"] = {"username": "feed", "password": {"env": "FEED_PW_FOR_CHECK"}}
    site.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.delenv("MCU_CONTROL_DEMO_SECRET", raising=False)
    monkeypatch.delenv("FEED_PW_FOR_CHECK", raising=False)
    found = check_secrets(load_profile(site))
    assert found.checked == 3
    assert {p.path for p in found.problems} == {
        "points[0].cameras[0].password",
        "points[0].mcu.password",
        "mqtt.password",
    }
