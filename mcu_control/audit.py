"""Hash-chained, append-only audit log (JSONL).

Every control action, drill, schedule change and MQTT command is one line. Each record
carries the SHA-256 of the previous record, so an edited, removed or reordered line breaks
the chain and `mcu-control audit verify` says where. Secrets are redacted before writing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.secrets import redact

GENESIS = "0" * 64
_lock = threading.Lock()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    first_bad_line: int | None = None
    reason: str = ""


class AuditLog:
    """Append records to `path`; safe across threads of one process (O_APPEND + a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(
        self, action: str, *, actor: str = "cli", target: str | None = None, **data: Any
    ) -> dict[str, Any]:
        """Write one record and return it (with its hash)."""
        with _lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            prev, seq = self._tail()
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
            line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            return record

    def verify(self) -> VerifyResult:
        """Walk the chain; report the first line that was edited, removed or moved."""
        if not self.path.exists():
            return VerifyResult(True, 0)
        prev = GENESIS
        count = 0
        with self.path.open(encoding="utf-8") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    record = json.loads(raw)
                    claimed = record.pop("hash")
                except (json.JSONDecodeError, KeyError, AttributeError, TypeError):
                    return VerifyResult(False, count, lineno, "not a valid audit record")
                if record.get("prev") != prev:
                    return VerifyResult(
                        False,
                        count,
                        lineno,
                        "chain broken: a record before it was removed, moved or edited",
                    )
                if record.get("seq") != count + 1:
                    return VerifyResult(False, count, lineno, "sequence number out of order")
                if _digest(record) != claimed:
                    return VerifyResult(
                        False, count, lineno, "record content does not match its hash (edited)"
                    )
                prev = claimed
                count += 1
        return VerifyResult(True, count)

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def _tail(self) -> tuple[str, int]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return GENESIS, 0
        with self.path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            pos = fh.tell()
            chunk = b""
            while pos > 0 and chunk.count(b"\n") < 2:
                step = min(4096, pos)
                pos -= step
                fh.seek(pos)
                chunk = fh.read(step) + chunk
        last = chunk.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        record = json.loads(last)
        return str(record["hash"]), int(record["seq"])


def _digest(record: dict[str, Any]) -> str:
    body = json.dumps(
        {k: v for k, v in record.items() if k != "hash"}, ensure_ascii=False, sort_keys=True
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
