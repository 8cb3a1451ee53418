"""Exit codes and the one error boundary, documented in docs/cli.md and relied on by cron jobs.

Every command ends through `classify`: a project error or user mistake gets its documented
code and a message that says what to fix; only a genuine bug is exit 4. `--json` prints the
same shape for every failure (`error_payload`).
"""

from __future__ import annotations

import signal
from enum import IntEnum
from typing import Any


class Exit(IntEnum):
    OK = 0
    WARNINGS = 1
    CHECK_FAILED = 2
    USAGE = 3
    INTERNAL = 4
    SIGINT = 128 + signal.SIGINT  # 130
    SIGTERM = 128 + signal.SIGTERM  # 143


class Interrupted(Exception):  # noqa: N818 — a state, not an error of ours
    """A command stopped by SIGINT or SIGTERM; `summary` says where things stand."""

    kind = "interrupted"

    def __init__(self, signum: int, summary: str | None = None) -> None:
        self.signum = signum
        self.summary = summary or f"interrupted by {signal.Signals(signum).name}"
        super().__init__(self.summary)


def classify(exc: BaseException) -> Exit:
    """The documented exit code for an exception that ends a command."""
    from devices.errors import ConfigError, McuControlError

    if isinstance(exc, Interrupted):
        return Exit.SIGTERM if exc.signum == signal.SIGTERM else Exit.SIGINT
    if isinstance(exc, ConfigError):
        return Exit.USAGE
    if isinstance(exc, McuControlError):
        return Exit.CHECK_FAILED
    return Exit.INTERNAL


def error_payload(exc: BaseException, code: int | None = None) -> dict[str, Any]:
    """The one JSON shape of a failed command (docs/cli.md "Errors")."""
    from devices.errors import ConfigError, McuControlError
    from devices.secrets import redact

    code = int(classify(exc) if code is None else code)
    out: dict[str, Any] = {
        "ok": False,
        "exit_code": code,
        "error": type(exc).__name__,
        "kind": "internal",
        "device": None,
        "message": redact(str(exc)),
        "hint": None,
        "problems": [],
    }
    if isinstance(exc, McuControlError):
        out.update(exc.to_dict())
        out["message"] = exc.message
    if isinstance(exc, ConfigError):
        out["problems"] = [p.to_dict() for p in exc.problems]
    if isinstance(exc, Interrupted):
        out["kind"] = exc.kind
        out["message"] = exc.summary
    elif code == Exit.INTERNAL:
        out["hint"] = "a bug: run with -vv for the traceback and report it"
    return out
