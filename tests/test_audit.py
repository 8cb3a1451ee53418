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
