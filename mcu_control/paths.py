"""Where mcu-control keeps its state (drill results, audit log, schedule changes, job store).

The directory is created 0750 and every file in it 0640 (docs/operations.md), whoever starts
the program: systemd, cron or a technician's shell. A state directory that cannot be used (a
file, a path under a file, read-only, empty) is a StateDirError — exit 3 with what to fix —
raised when a command first asks for the directory, before it touches any device.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from devices.errors import ConfigError

DIR_MODE = 0o750
FILE_MODE = 0o640

_override: Path | None = None
_checked: set[Path] = set()


class StateDirError(ConfigError):
    """The state directory cannot be created or written."""

    kind = "state-dir"


def set_state_dir(path: Path | str | None) -> None:
    """Set by the global --state-dir option (an empty string is refused)."""
    global _override  # noqa: PLW0603 — one process-wide setting from the command line
    if path is not None and str(path).strip() == "":
        raise StateDirError(
            "--state-dir is empty",
            hint="give a directory (e.g. --state-dir /var/lib/mcu-control) or leave the option out",
        )
    _override = Path(path) if path is not None else None


def state_dir() -> Path:
    """--state-dir, else $MCU_CONTROL_STATE_DIR, else /var/lib/mcu-control as root, else XDG state.

    Created 0750 if missing; StateDirError if it is not a usable directory.
    """
    if _override is not None:
        path = _override
    elif os.environ.get("MCU_CONTROL_STATE_DIR"):
        path = Path(os.environ["MCU_CONTROL_STATE_DIR"])
    elif os.geteuid() == 0:
        path = Path("/var/lib/mcu-control")
    else:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        path = Path(base) / "mcu-control"
    if path not in _checked:
        ensure_state_dir(path)
        _checked.add(path)
    return path


def ensure_state_dir(path: Path) -> None:
    """Create `path` 0750 (parents too) and check it is a writable directory."""
    hint_other = "or choose another one with --state-dir / MCU_CONTROL_STATE_DIR"
    if path.exists() and not path.is_dir():
        raise StateDirError(
            f"the state directory {path} is a file, not a directory",
            hint=f"move or remove that file, {hint_other}",
        )
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise StateDirError(
                f"the state directory {path} is under {parent}, which is a file",
                hint=f"move or remove {parent}, {hint_other}",
            )
    try:
        if not path.is_dir():
            old = os.umask(0o027)
            try:
                path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            finally:
                os.umask(old)
        # a real write: access() says yes to root on a 0555 folder and cannot see a full disk
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StateDirError(
            f"cannot write the state directory {path}: {_why(exc)}",
            hint=(
                f"make it writable for this user (install -d -m 0750 {path}), {hint_other}"
                if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
                else f"fix it, {hint_other}"
            ),
        ) from None


def state_file(name: str) -> Path:
    """A file of the state directory, created empty with mode 0640 if it does not exist."""
    path = state_dir() / name
    create_private(path)
    return path


def create_private(path: Path) -> None:
    """Create `path` (mode 0640) unless it exists, so SQLite and its -wal/-shm files are 0640."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def audit_path() -> Path:
    return state_dir() / "audit.jsonl"


def _why(exc: OSError) -> str:
    reasons = {
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOSPC: "the disk is full",
        errno.ENOTDIR: "a folder in its path is a file",
    }
    return reasons.get(exc.errno or 0, exc.strerror or type(exc).__name__)
