"""The session commands as cron and technicians run them: subprocesses against the rig."""

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


async def _cli(*args: str, state: Path, timeout: float = 90) -> tuple[int, str, str]:
    return await run_cli(*args, state=state, timeout=timeout)


def _profile(tmp_path: Path) -> Path:
    return write_profile(fast(remap_ports(demo_data())), tmp_path)


async def test_drill_report_and_audit_commands(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    rig = Rig(load_profile(path), load_scenario("loss-3pct"))
    await rig.start()
    try:
        code, out, err = await _cli(
            "drill",
            "--quick",
            "--point",
            "que-vo",
            "--point",
            "gia-binh",
            "--profile",
            str(path),
            "--json",
            state=tmp_path,
        )
        assert code == 1, out + err  # 3 % loss at Quế Võ: WARN
        report = json.loads(out)
        assert report["verdict"] == "warn"
        assert {p["point"]: p["verdict"] for p in report["points"]} == {
            "que-vo": "warn",
            "gia-binh": "pass",
        }

        html = tmp_path / "drill.html"
        code, out, err = await _cli(
            "report",
            "drill",
            "--last",
            "--html",
            str(html),
            "--json",
            "--profile",
            str(path),
            state=tmp_path,
        )
        assert code == 0, err
        assert json.loads(out)["id"] == report["id"]
        page = html.read_text(encoding="utf-8")
        assert "TX Quế Võ" in page and "<svg" in page and "CẢNH BÁO" in page

        code, out, err = await _cli(
            "status", "--timeout", "15", "--profile", str(path), state=tmp_path
        )
        assert code == 0, out + err
        assert "Huyện Lương Tài" in out and "ready" in out

        code, out, _ = await _cli("audit", "verify", "--json", state=tmp_path)
        assert code == 0 and json.loads(out)["records"] >= 2
        audit = tmp_path / "audit.jsonl"
        lines = audit.read_text(encoding="utf-8").splitlines()
        rec: dict[str, Any] = json.loads(lines[0])
        rec["actor"] = "someone-else"
        lines[0] = json.dumps(rec, ensure_ascii=False, sort_keys=True)
        audit.write_text("\n".join(lines) + "\n", encoding="utf-8")
        code, out, _ = await _cli("audit", "verify", "--json", state=tmp_path)
        assert code == 2
        assert json.loads(out)["first_bad_line"] == 1
    finally:
        await rig.stop()


async def test_bringup_and_teardown_commands(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    rig = Rig(load_profile(path), load_scenario("one-point-busy"))
    await rig.start()
    try:
        code, out, err = await _cli("bringup", "--profile", str(path), "--json", state=tmp_path)
        assert code == 2, err
        result = json.loads(out)
        assert (result["connected"], result["total"]) == (8, 9)
        assert [p["reason"] for p in result["points"] if not p["connected"]] == ["busy"]
        code, out, err = await _cli("teardown", "--profile", str(path), "--json", state=tmp_path)
        assert code == 0, err
        assert json.loads(out)["ok"] is True
    finally:
        await rig.stop()


async def test_demo_once_brings_up_nine_points(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    code, out, err = await _cli(
        "demo", "--once", "--json", "--profile", str(path), state=tmp_path, timeout=120
    )
    assert code == 0, err[-2000:]
    result = json.loads(out)
    assert (result["connected"], result["total"], result["recording"]) == (9, 9, True)


async def test_unknown_point_is_a_usage_error(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    code, _, err = await _cli("drill", "--point", "ha-noi", "--profile", str(path), state=tmp_path)
    assert code == 3
    assert "unknown point 'ha-noi'" in err and "Traceback" not in err
