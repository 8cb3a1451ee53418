"""Hash-chained, append-only audit log (JSONL).

Every control action, drill, schedule change and MQTT command is one line. Each record
carries the SHA-256 of the previous record, so an edited, removed or reordered line breaks
the chain and `mcu-control audit verify` says where. Secrets are redacted before writing.

Durability (docs/operations.md, "Power cuts and full disks"): a record is one `write()` of one
complete line on an O_APPEND descriptor, fsync'd before `append` returns; a write that comes
up short (disk full) is cut back so no half line stays. A power cut can still leave a torn
last line (or a tail of NUL bytes): the next writer moves it to `<log>.quarantine` beside the
log, truncates the log back to its last whole record and appends an `audit.repaired` record
that says what was removed, so the chain stays valid and `audit verify` lists the repair.
Writers in several processes (the daemon and a technician's CLI) take an flock on the log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from devices.errors import ConfigError
from devices.secrets import redact

GENESIS = "0" * 64
REPAIRED = "audit.repaired"
#: below this much free space an interactive command refuses to act (it could not audit)
MIN_FREE_BYTES = 64 * 1024
#: how far back from the end a torn tail is looked for
_TAIL_WINDOW = 1024 * 1024
_lock = threading.Lock()
log = logging.getLogger("mcu_control.audit")


class AuditUnavailableError(ConfigError):
    """The audit log cannot be written (permissions, read-only disk, disk full, not a file)."""

    kind = "audit-unavailable"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"cannot write the audit log {path}: {reason}",
            hint=(
                "nothing was done; free disk space or fix the file's owner/permissions "
                "(or choose another --state-dir), then run the command again"
            ),
        )
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Repair:
    """One `audit.repaired` record: what a writer cut from the end of the log and where it went."""

    line: int
    at: str
    removed_bytes: int
    quarantine: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "at": self.at,
            "removed_bytes": self.removed_bytes,
            "quarantine": self.quarantine,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    first_bad_line: int | None = None
    reason: str = ""
    repairs: list[Repair] = field(default_factory=list)
    #: the only problem is an unrepaired torn last line (the next writer repairs it)
    torn_tail: bool = False


class EventSink(Protocol):
    """Where an alert goes (the daemon's StateStore: panels and MQTT see it)."""

    def event(self, kind: str, /, **payload: Any) -> None: ...


#: called with (action, target, error) when a tolerant log could not write a record
GapHandler = Callable[[str, str | None, Exception], None]


class AuditLog:
    """Append records to `path`; safe across threads (a lock) and processes (flock).

    With `on_gap` (the daemon), a record that cannot be written is reported to it instead of
    raising: a scheduled job on session day goes on, and the gap is alerted and journalled.
    """

    def __init__(self, path: Path, *, on_gap: GapHandler | None = None) -> None:
        self.path = path
        self.on_gap = on_gap

    @property
    def quarantine_path(self) -> Path:
        return self.path.with_name(self.path.name + ".quarantine")

    def append(
        self, action: str, *, actor: str = "cli", target: str | None = None, **data: Any
    ) -> dict[str, Any]:
        """Write one record and return it (with its hash); AuditUnavailableError if it cannot
        (or, with `on_gap`, report the gap and return the unwritten record without a hash)."""
        try:
            with _lock, self._open() as fd:
                self._repair(fd)
                return self._write(fd, action, actor, target, data)
        except AuditUnavailableError as exc:
            if self.on_gap is None:
                raise
            self.on_gap(action, target, exc)
            return {"action": action, "actor": actor, "target": target, "data": data}

    def ensure_writable(self) -> None:
        """Raise AuditUnavailableError unless a record can be appended now (repairs a torn tail).

        Interactive commands call this before touching any device: an action that cannot be
        audited is refused, not done silently.
        """
        with _lock, self._open() as fd:
            try:
                st = os.fstatvfs(fd)
            except OSError:
                st = None
            if st is not None and st.f_bavail * st.f_frsize < MIN_FREE_BYTES:
                raise AuditUnavailableError(self.path, "the disk is full")
            self._repair(fd)

    def verify(self) -> VerifyResult:
        """Walk the chain; report the first line that was edited, removed or moved, and repairs."""
        if not self.path.exists():
            return VerifyResult(True, 0)
        prev = GENESIS
        count = 0
        repairs: list[Repair] = []
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        complete = lines[:-1]  # the part after the last newline is not a whole record
        torn = lines[-1]
        for lineno, raw in enumerate(complete, start=1):
            record = _parse(raw)
            if record is None:
                if lineno == len(complete) and not torn:
                    return VerifyResult(
                        False,
                        count,
                        lineno,
                        f"torn last line (an interrupted write); the next audited action moves "
                        f"it to {self.quarantine_path.name}",
                        repairs,
                        torn_tail=True,
                    )
                return VerifyResult(False, count, lineno, "not a valid audit record", repairs)
            claimed = record.pop("hash")
            if record.get("prev") != prev:
                return VerifyResult(
                    False,
                    count,
                    lineno,
                    "chain broken: a record before it was removed, moved or edited",
                    repairs,
                )
            if record.get("seq") != count + 1:
                return VerifyResult(False, count, lineno, "sequence number out of order", repairs)
            if _digest(record) != claimed:
                return VerifyResult(
                    False,
                    count,
                    lineno,
                    "record content does not match its hash (edited)",
                    repairs,
                )
            if record.get("action") == REPAIRED:
                d = record.get("data") or {}
                repairs.append(
                    Repair(
                        lineno,
                        str(record.get("at", "")),
                        int(d.get("removed_bytes", 0)),
                        str(d.get("quarantine", "")),
                        str(d.get("reason", "")),
                    )
                )
            prev = claimed
            count += 1
        if torn:
            return VerifyResult(
                False,
                count,
                len(complete) + 1,
                f"torn last line (an interrupted write); the next audited action moves it to "
                f"{self.quarantine_path.name}",
                repairs,
                torn_tail=True,
            )
        return VerifyResult(True, count, repairs=repairs)

    def records(self) -> list[dict[str, Any]]:
        """Every readable record, oldest first (unreadable lines are skipped)."""
        return [e for e in self.entries() if not e.get("unreadable")]

    def entries(self) -> list[dict[str, Any]]:
        """Every line: a record, or {"unreadable": True, "line": n, "text": excerpt}."""
        if not self.path.exists():
            return []
        out: list[dict[str, Any]] = []
        with self.path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                record = _parse(raw)
                if record is None:
                    text = raw.decode("utf-8", errors="replace").rstrip("\n")
                    out.append({"unreadable": True, "line": lineno, "text": text[:120]})
                else:
                    out.append(record)
        return out

    # ------------------------------------------------------------------ internals

    def _open(self) -> _Locked:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditUnavailableError(self.path, _why(exc)) from None
        return _Locked(fd)

    def _write(
        self, fd: int, action: str, actor: str, target: str | None, data: dict[str, Any]
    ) -> dict[str, Any]:
        prev, seq = _tail(fd)
        record: dict[str, Any] = {
            "seq": seq + 1,
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "actor": actor,
            "action": action,
            "target": target,
            "data": json.loads(redact(json.dumps(data, ensure_ascii=False, default=str))),
            "prev": prev,
        }
        record["hash"] = _digest(record)
        line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        size = os.fstat(fd).st_size
        error: OSError | None = None
        try:
            written = os.write(fd, line)  # one write of one whole line (O_APPEND)
            if written != len(line):
                error = OSError(errno.ENOSPC, "short write")
            else:
                os.fsync(fd)
        except OSError as exc:
            error = exc
        if error is not None:
            # never leave half a line behind: cut the file back to where it was
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise AuditUnavailableError(self.path, _why(error))
        return record

    def _repair(self, fd: int) -> None:
        """Move a torn tail to the quarantine file and record that (caller holds the locks)."""
        size = os.fstat(fd).st_size
        if size == 0:
            return
        # the common case, a whole valid last line, costs one small read and one parse
        small = os.pread(fd, min(size, 64 * 1024), max(0, size - 64 * 1024))
        if small.endswith(b"\n") and _parse(small[small.rfind(b"\n", 0, -1) + 1 :]) is not None:
            return
        tail = small[small.rfind(b"\n") + 1 :]
        if tail and _parse(tail) is not None:  # a whole record that only lacks its newline
            try:
                written = os.write(fd, b"\n")
            except OSError as exc:
                raise AuditUnavailableError(self.path, _why(exc)) from None
            if written != 1:
                raise AuditUnavailableError(self.path, "the disk is full")
            return
        start = max(0, size - _TAIL_WINDOW)
        chunk = os.pread(fd, size - start, start)
        good_end = _last_good_end(chunk)
        if good_end == len(chunk):
            return
        if good_end == 0 and start > 0:
            raise AuditUnavailableError(
                self.path,
                "its last megabyte holds no valid record; move the file aside "
                "(`audit verify` names the first bad line)",
            )
        cut = start + good_end
        removed = chunk[good_end:]
        try:
            q = os.open(self.quarantine_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                stamp = dt.datetime.now(dt.UTC).isoformat()
                header = f"# {stamp} removed from {self.path.name} at byte {cut}:\n"
                os.write(q, header.encode() + removed + b"\n")
                os.fsync(q)
            finally:
                os.close(q)
            os.ftruncate(fd, cut)
            os.fsync(fd)
        except OSError as exc:
            raise AuditUnavailableError(self.path, _why(exc)) from None
        excerpt = removed[:80].decode("utf-8", errors="replace")
        self._write(
            fd,
            REPAIRED,
            "audit",
            self.path.name,
            {
                "reason": "torn last line (an interrupted write, e.g. a power cut)",
                "removed_bytes": len(removed),
                "removed_sha256": hashlib.sha256(removed).hexdigest(),
                "excerpt": excerpt,
                "quarantine": str(self.quarantine_path),
            },
        )


_last_gap_event: dict[str, float] = {}
GAP_EVENT_EVERY_S = 60.0


def audit_gap(
    store: EventSink, path: object, action: str, target: str | None, exc: BaseException
) -> None:
    """An action went on without its audit record: a journal line, and an alert event.

    A scheduled job on session day goes on when the log cannot be written (the session
    matters more); the gap must be visible. One `audit-gap` event a minute at most per file,
    but every missing record has its journal line.
    """
    log.error(
        "AUDIT GAP: %s on %s was done but not recorded in %s: %s",
        action,
        target or "-",
        path,
        exc,
    )
    now = time.monotonic()
    key = str(path)
    if now - _last_gap_event.get(key, -GAP_EVENT_EVERY_S) >= GAP_EVENT_EVERY_S:
        _last_gap_event[key] = now
        store.event("audit-gap", file=key, action=action, target=target, error=str(exc))


class _Locked:
    """An open descriptor of the log, flock'ed for one writer across processes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> int:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self.fd

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)


def _parse(raw: bytes) -> dict[str, Any] | None:
    """A record with a hash and a sequence number, or None for anything else."""
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("hash"), str)
        or not isinstance(record.get("seq"), int)
    ):
        return None
    return record


def _last_good_end(chunk: bytes) -> int:
    """Offset just after the last whole, valid record line in `chunk` (0 if none)."""
    end = len(chunk)
    if chunk.endswith(b"\n"):
        # a whole last line that parses: nothing to repair (the common case, one parse)
        body_start = chunk.rfind(b"\n", 0, end - 1) + 1
        if _parse(chunk[body_start : end - 1]) is not None:
            return end
    pos = chunk.rfind(b"\n")
    while pos >= 0:
        start = chunk.rfind(b"\n", 0, pos) + 1
        if _parse(chunk[start:pos]) is not None:
            return pos + 1
        if start == 0:
            break
        pos = start - 1
    return 0


def _tail(fd: int) -> tuple[str, int]:
    """The hash and sequence number of the last record (the log's tail was repaired)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return GENESIS, 0
    pos = size
    chunk = b""
    while pos > 0 and chunk.count(b"\n") < 2:
        step = min(4096, pos)
        pos -= step
        chunk = os.pread(fd, step, pos) + chunk
    last = chunk.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    record = _parse(last)
    if record is None:  # only after a repair that found nothing valid at all
        return GENESIS, 0
    return str(record["hash"]), int(record["seq"])


def _why(exc: OSError) -> str:
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EISDIR: "it is a directory, not a file",
        errno.ENOTDIR: "a folder in its path is a file",
    }
    return reasons.get(exc.errno or 0, exc.strerror or type(exc).__name__)


def _digest(record: dict[str, Any]) -> str:
    body = json.dumps(
        {k: v for k, v in record.items() if k != "hash"}, ensure_ascii=False, sort_keys=True
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
