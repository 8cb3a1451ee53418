"""Launching `mcu-control run` as a real process, and waiting on its audit log."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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


async def start_cli(
    *args: str,
    state: Path,
    env: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    output: int | None = None,
) -> Any:
    """`python -m cli ARGS` started as a real process on `state` (an asyncio Process).

    `env` adds to (and `drop` removes from) this process's environment; COLUMNS is 200 unless
    dropped, so tables and messages are not wrapped at the default 80. `output`: where stdout
    and stderr go (default: pipes).
    """
    import asyncio
    import os

    full = dict(os.environ, MCU_CONTROL_STATE_DIR=str(state), COLUMNS="200", **(env or {}))
    for name in drop:
        full.pop(name, None)
    where = asyncio.subprocess.PIPE if output is None else output
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", *args, cwd=ROOT, env=full, stdout=where, stderr=where
    )


async def run_cli(
    *args: str,
    state: Path,
    timeout: float = 90,
    env: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> tuple[int, str, str]:
    """`python -m cli ARGS` run to its end (see start_cli): (exit code, stdout, stderr)."""
    import asyncio

    proc = await start_cli(*args, state=state, env=env, drop=drop)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


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


def stop_daemons(procs: Iterable[subprocess.Popen[Any] | None]) -> None:
    """SIGTERM each daemon still running; SIGKILL one that is not gone within 10 s."""
    for proc in procs:
        if proc is None or proc.poll() is not None:
            continue
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def until_active_online(daemon: Any, rec: Any, prefix: str) -> None:
    """Until the daemon's feed said `online` (seen by the Recorder `rec`) and it is active."""
    import asyncio

    await asyncio.to_thread(rec.wait_for, lambda _m: rec.latest(f"{prefix}/status") == "online", 20)
    deadline = time.monotonic() + 10
    while not daemon.active and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
