"""`mcu-control schedule …` as technicians and cron use it: subprocess, exit codes, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BAC_NINH = ROOT / "profiles" / "sites" / "bac-ninh.yaml"


def mcu(state: Path, *args: str, profile: Path = BAC_NINH) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "--state-dir", str(state), "--profile", str(profile), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def ok_json(state: Path, *args: str) -> Any:
    r = mcu(state, *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_acceptance_list_2026_2027_json(tmp_path: Path) -> None:
    out = ok_json(tmp_path, "schedule", "list", "--from", "2026-01-01", "--to", "2027-12-31")
    assert out["timezone"] == "Asia/Ho_Chi_Minh"
    sessions = out["sessions"]
    assert [s["date"] for s in sessions] == [
        "2026-03-10", "2026-06-10", "2026-09-10", "2026-12-10",
        "2027-03-10", "2027-06-10", "2027-09-10", "2027-12-10",
    ]  # fmt: skip
    first = sessions[0]
    assert first["start"] == "2026-03-10T08:00:00+07:00"
    assert first["end"] == "2026-03-10T11:30:00+07:00"
    assert [(d["label"], d["at"]) for d in first["drills"]] == [
        ("T-1d", "2026-03-09T08:00:00+07:00"),
        ("T-2h", "2026-03-10T06:00:00+07:00"),
    ]
    assert first["bringup"] == "2026-03-10T07:45:00+07:00"
    assert first["teardown"] == "2026-03-10T11:30:00+07:00"
    assert first["jobs"][0]["job_id"] == "bi-thu-hang-quy@2026-03-10T08:00:00+07:00#drill-1d"
    assert all(s["shifted_from"] is None for s in sessions)


def test_add_skip_move_remove_round_trip_is_persisted_and_audited(tmp_path: Path) -> None:
    span = ("--from", "2027-06-01", "--to", "2027-09-30")
    added = ok_json(
        tmp_path, "schedule", "add", "tong-duyet", "2027-06-09", "14:00",
        "--title", "Tổng duyệt", "--duration", "1h30m", "--reason", "rehearsal",
    )  # fmt: skip
    assert added["change"]["type"] == "add"
    skipped = ok_json(
        tmp_path, "schedule", "skip", "bi-thu-hang-quy", "2027-06-10", "--reason", "lễ\x1b[2J"
    )
    moved = ok_json(
        tmp_path,
        "schedule",
        "move",
        "bi-thu-hang-quy",
        "2027-09-10",
        "2027-09-11",
        "--start",
        "14:00",
    )
    listed = ok_json(tmp_path, "schedule", "list", *span)["sessions"]
    assert [(s["session_id"], s["start"], s["status"], s["note"]) for s in listed] == [
        ("tong-duyet", "2027-06-09T14:00:00+07:00", "scheduled", "added"),
        ("bi-thu-hang-quy", "2027-06-10T08:00:00+07:00", "skipped", "skipped (lễ[2J)"),
        ("bi-thu-hang-quy", "2027-09-11T14:00:00+07:00", "scheduled", "moved from 2027-09-10"),
    ]
    assert listed[0]["bringup"] == "2027-06-09T13:45:00+07:00"
    assert listed[1]["bringup"] is None  # a skipped session runs no job
    human = mcu(tmp_path, "schedule", "list", *span)
    assert "skipped (lễ[2J)" in human.stdout
    assert "Teardown" in human.stdout
    changes = ok_json(tmp_path, "schedule", "changes")["changes"]
    assert [c["type"] for c in changes] == ["add", "skip", "move"]

    ok_json(tmp_path, "schedule", "remove", str(skipped["change"]["id"]))
    ok_json(tmp_path, "schedule", "remove", "tong-duyet")
    ok_json(tmp_path, "schedule", "remove", str(moved["change"]["id"]))
    listed = ok_json(tmp_path, "schedule", "list", *span)["sessions"]
    assert [s["start"] for s in listed] == [
        "2027-06-10T08:00:00+07:00",
        "2027-09-10T08:00:00+07:00",
    ]

    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [a["action"] for a in audit] == [
        "schedule.add", "schedule.skip", "schedule.move",
        "schedule.remove", "schedule.remove", "schedule.remove",
    ]  # fmt: skip
    assert audit[0]["data"]["reason"] == "rehearsal"


def test_usage_errors_exit_3_with_a_reason(tmp_path: Path) -> None:
    r = mcu(tmp_path, "schedule", "skip", "bi-thu-hang-quy", "2026-06-11", "--json")
    assert r.returncode == 3
    assert "no session on 2026-06-11" in json.loads(r.stdout)["message"]
    r = mcu(tmp_path, "schedule", "skip", "khong-co", "2026-06-10")
    assert r.returncode == 3
    assert "no session rule 'khong-co'" in r.stderr
    r = mcu(tmp_path, "schedule", "list", "--from", "10/06/2026")
    assert r.returncode == 3
    assert "YYYY-MM-DD" in r.stderr
    r = mcu(tmp_path, "schedule", "add", "bi-thu-hang-quy", "2026-06-09", "14:00", "--title", "x")
    assert r.returncode == 3
    assert "already used" in r.stderr
    r = mcu(tmp_path, "schedule", "remove", "99")
    assert r.returncode == 3


def test_next_and_human_table(tmp_path: Path) -> None:
    out = ok_json(tmp_path, "schedule", "next", "-n", "2")
    assert len(out["sessions"]) == 2
    assert out["sessions"][0]["start"] < out["sessions"][1]["start"]
    human = mcu(tmp_path, "schedule", "list", "--from", "2026-03-01", "--to", "2026-03-31")
    assert human.returncode == 0
    assert "2026-03-10" in human.stdout
    assert "T-2h" in human.stdout


def test_runs_lists_the_ledger_newest_first_and_filters_by_status(tmp_path: Path) -> None:
    import datetime as dt

    from scheduler.db import ScheduleDb

    db = ScheduleDb(f"sqlite:///{tmp_path / 'scheduler.sqlite'}")
    db.create()
    key = "bi-thu-hang-quy@2026-12-10T08:00:00+07:00"
    due = dt.datetime(2026, 12, 9, 1, tzinfo=dt.UTC)
    assert db.claim(f"{key}#drill-1d", due, "pc-a")
    db.finish(f"{key}#drill-1d", due, "done")
    later = due + dt.timedelta(hours=23)
    assert db.claim(f"{key}#drill-2h", later, "pc-a")
    [row] = db.claimed_runs()
    assert db.take_over(row, "pc-b", status="interrupted", detail="pc-a stopped while running it")
    db.dispose()

    rows = ok_json(tmp_path, "schedule", "runs")["runs"]
    assert [(r["job_id"].split("#")[1], r["node"], r["status"]) for r in rows] == [
        ("drill-2h", "pc-b", "interrupted"),
        ("drill-1d", "pc-a", "done"),
    ]
    only = ok_json(tmp_path, "schedule", "runs", "--status", "interrupted")["runs"]
    assert [r["detail"] for r in only] == ["pc-a stopped while running it"]
    human = mcu(tmp_path, "schedule", "runs")
    assert human.returncode == 0, human.stderr
    assert "interrupted" in human.stdout
    assert "2026-12-10 07:00" in human.stdout  # due times in the site's time zone
    bad = mcu(tmp_path, "schedule", "runs", "--status", "lost")
    assert bad.returncode == 3  # usage error
    assert "--status must be one of" in bad.stderr
