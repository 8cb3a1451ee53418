"""Where mcu-control keeps its state (drill results, audit log, schedule changes, job store)."""

from __future__ import annotations

import os
from pathlib import Path

_override: Path | None = None


def set_state_dir(path: Path | None) -> None:
    """Set by the global --state-dir option."""
    global _override  # noqa: PLW0603 — one process-wide setting from the command line
    _override = path


def state_dir() -> Path:
    """--state-dir, else $MCU_CONTROL_STATE_DIR, else /var/lib/mcu-control as root, else XDG state."""
    if _override is not None:
        path = _override
    elif os.environ.get("MCU_CONTROL_STATE_DIR"):
        path = Path(os.environ["MCU_CONTROL_STATE_DIR"])
    elif os.geteuid() == 0:
        path = Path("/var/lib/mcu-control")
    else:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        path = Path(base) / "mcu-control"
    path.mkdir(parents=True, exist_ok=True)
    return path


def audit_path() -> Path:
    return state_dir() / "audit.jsonl"
