"""Launching `mcu-control run` as a real process, and waiting on its audit log."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mcu_control.audit import AuditLog

ROOT = Path(__file__).resolve().parent.parent


def daemon_argv(profile: Path, state: Path, *extra: str) -> list[str]:
    """`python -m cli --profile … --state-dir … run <extra>`, run with cwd=ROOT."""
    return [
        sys.executable,
        "-m",
        "cli",
        "--profile",
        str(profile),
        "--state-dir",
        str(state),
        "run",
        *extra,
    ]


def pair_args(database_url: str, schema: str, node: str) -> list[str]:
    """One daemon of a redundant pair on PostgreSQL, polling the lock every 0.5 s."""
    return [
        "--database",
        database_url,
        "--database-schema",
        schema,
        "--node-id",
        node,
        "--leader-poll",
        "0.5",
    ]


def audit_actions(audit: AuditLog) -> list[str]:
    return [r["action"] for r in audit.records()] if audit.path.exists() else []


def wait_audit(audit: AuditLog, action: str, timeout: float = 15.0, count: int = 1) -> float:
    """Wait until `action` is in the audit log `count` times; return the seconds waited."""
    t0 = time.monotonic()
    while audit_actions(audit).count(action) < count:
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{audit.path}: no {action} after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - t0
