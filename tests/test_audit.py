"""Audit log: a hash chain that catches edited, removed and reordered records."""

from __future__ import annotations

import json
from pathlib import Path

from devices.secrets import Secret
from mcu_control.audit import AuditLog


def _log(tmp_path: Path, n: int = 4) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(n):
        log.append("mixer.mute", target="tien-du.mixer", channel=f"mic-{i}", muted=True)
    return log


def test_intact_chain_verifies(tmp_path: Path) -> None:
    log = _log(tmp_path)
    result = log.verify()
    assert result.ok
    assert result.records == 4


def test_edited_record_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = log.path.read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[2])
    rec["data"]["muted"] = False
    lines[2] = json.dumps(rec, ensure_ascii=False, sort_keys=True)
    log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = log.verify()
    assert not result.ok
    assert result.first_bad_line == 3
    assert "edited" in result.reason


def test_removed_and_reordered_records_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = log.path.read_text(encoding="utf-8").splitlines()
    log.path.write_text("\n".join(lines[:1] + lines[2:]) + "\n", encoding="utf-8")
    assert log.verify().first_bad_line == 2
    log.path.write_text(
        "\n".join([lines[0], lines[2], lines[1], lines[3]]) + "\n", encoding="utf-8"
    )
    assert not log.verify().ok


def test_secrets_never_recorded(tmp_path: Path) -> None:
    secret = Secret("very-secret-pin-8100")
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("mcu.create", target="trung-tam.mcu", note=f"pin {secret.reveal()}")
    text = log.path.read_text(encoding="utf-8")
    assert "very-secret-pin-8100" not in text
    assert log.verify().ok
    assert log.records()[0]["data"]["note"] == "pin ***"


def test_chain_continues_across_instances(tmp_path: Path) -> None:
    _log(tmp_path, 2)
    again = AuditLog(tmp_path / "audit.jsonl")
    again.append("drill", target="site")
    assert again.verify().records == 3


def test_torn_tail_is_moved_aside_and_the_chain_goes_on(tmp_path: Path) -> None:
    log = _log(tmp_path, 2)
    with log.path.open("ab") as fh:
        fh.write(b'{"seq": 3, "hash": "ab')  # a write cut by a power cut
    assert log.verify().torn_tail
    log.append("drill", target="site")
    result = log.verify()
    assert result.ok
    assert result.records == 4
    assert [r.removed_bytes for r in result.repairs] == [22]
    assert log.quarantine_path.read_bytes().endswith(b'{"seq": 3, "hash": "ab\n')


def test_a_log_of_nothing_but_garbage_starts_a_new_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.path.write_bytes(b"\x00" * 100)
    log.append("drill", target="site")
    result = log.verify()
    assert result.ok
    assert [r["action"] for r in log.records()] == ["audit.repaired", "drill"]


def test_unwritable_log_raises_naming_the_file_or_reports_a_gap(tmp_path: Path) -> None:
    import pytest

    from mcu_control.audit import AuditUnavailableError

    (tmp_path / "audit.jsonl").mkdir()
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(AuditUnavailableError, match=r"audit\.jsonl"):
        log.ensure_writable()
    with pytest.raises(AuditUnavailableError):
        log.append("mixer.mute", target="x")
    gaps: list[tuple[str, str | None]] = []
    tolerant = AuditLog(log.path, on_gap=lambda action, target, exc: gaps.append((action, target)))
    tolerant.append("session.bringup", target="phien@2026-12-10")
    assert gaps == [("session.bringup", "phien@2026-12-10")]


def test_records_skip_garbage_lines(tmp_path: Path) -> None:
    log = _log(tmp_path, 2)
    with log.path.open("ab") as fh:
        fh.write(b"not json\n[1, 2]\n")
    assert len(log.records()) == 2
    assert [e.get("unreadable", False) for e in log.entries()] == [False, False, True, True]


def test_a_whole_last_record_without_its_newline_is_kept(tmp_path: Path) -> None:
    log = _log(tmp_path, 2)
    log.path.write_bytes(log.path.read_bytes().rstrip(b"\n"))
    log.append("drill", target="site")
    assert [r["action"] for r in log.records()] == ["mixer.mute", "mixer.mute", "drill"]
    assert log.verify().ok
    assert not log.quarantine_path.exists()
