"""Times people read are in site time (+07:00 for Vietnam); JSON instants carry the site's offset."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import cli
from mcu_control.audit import AuditLog
from mcu_control.drillstore import DrillStore
from mcu_control.results import DrillReport


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        cli.main(list(argv))
    code = done.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().out


def test_drill_list_and_html_are_in_site_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = dt.datetime(2026, 11, 30, 20, 0, 5, tzinfo=dt.UTC)  # 03:00 next day in Hà Nội
    DrillStore(tmp_path / "drills.sqlite").save(
        DrillReport("d1", "bac-ninh-demo", "T-2h", True, started, started + dt.timedelta(seconds=9))
    )
    code, out = _run(capsys, "--state-dir", str(tmp_path), "report", "drill", "--list", "--json")
    assert code == 0
    assert json.loads(out)[0]["started_at"] == "2026-12-01T03:00:05+07:00"

    code, out = _run(capsys, "--state-dir", str(tmp_path), "report", "drill", "--list")
    assert "2026-12-01 03:00:05" in out

    html = tmp_path / "r.html"
    code, out = _run(
        capsys, "--state-dir", str(tmp_path), "--json", "report", "drill", "d1", "--html", str(html)
    )
    assert code == 0
    assert "2026-12-01T03:00:05+07:00" in html.read_text()
    assert json.loads(out)["started_at"] == "2026-12-01T03:00:05+07:00"


def test_audit_show_reads_in_site_time_and_keeps_records_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    AuditLog(tmp_path / "audit.jsonl").append("drill.start", actor="test", target="x")
    code, out = _run(capsys, "--state-dir", str(tmp_path), "audit", "show", "--json")
    assert code == 0
    stored = json.loads(out)[0]["at"]
    code, out = _run(capsys, "--state-dir", str(tmp_path), "audit", "show")
    assert code == 0
    local = dt.datetime.fromisoformat(stored).astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert local.strftime("%Y-%m-%d %H:%M:%S") in out
