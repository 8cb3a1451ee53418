"""Drill results kept in SQLite under the state directory, for reports and the last-drill view.

The file is 0640, in WAL mode with a busy timeout; a damaged file is set aside and a new one
started (scheduler/sqlitefile.py). A drill whose result cannot be stored still reports its
verdict and exit code: `save_or_warn` only warns, naming the store.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import closing
from pathlib import Path

from mcu_control.results import DrillReport
from scheduler import sqlitefile

log = logging.getLogger("mcu_control.drillstore")
FILE_NAME = "drills.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS drills (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    label TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    verdict TEXT NOT NULL,
    report TEXT NOT NULL
)
"""


class DrillStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        #: what happened to a damaged file (moved aside), for the command to show
        self.warning = sqlitefile.prepare(path)
        with closing(self._connect()) as db, db:
            db.execute(SCHEMA)

    def save(self, report: DrillReport) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO drills VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    report.id,
                    report.site,
                    report.label,
                    report.started_at.isoformat(),
                    report.finished_at.isoformat() if report.finished_at else None,
                    report.verdict.value,
                    json.dumps(report.to_dict(), ensure_ascii=False),
                ),
            )

    def get(self, drill_id: str) -> DrillReport | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT report FROM drills WHERE id = ?", (drill_id,)).fetchone()
        return DrillReport.from_dict(json.loads(row[0])) if row else None

    def last(self) -> DrillReport | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT report FROM drills ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
        return DrillReport.from_dict(json.loads(row[0])) if row else None

    def list(self, limit: int = 20) -> list[dict[str, str]]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id, label, started_at, verdict FROM drills ORDER BY started_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        # a row without id or verdict is damage the integrity check missed: never a blank row
        return [
            {"id": r[0], "label": r[1], "started_at": r[2], "verdict": r[3]}
            for r in rows
            if r[0] and r[3]
        ]

    def _connect(self) -> sqlite3.Connection:
        return sqlitefile.connect(self.path)


def save_or_warn(report: DrillReport, state_dir: Path | None = None) -> str | None:
    """Store a drill's result; on failure log a warning naming the store and return it."""
    from devices.errors import McuControlError
    from mcu_control.paths import state_dir as default_state_dir

    path = state_dir / FILE_NAME if state_dir is not None else Path(FILE_NAME)
    try:
        path = (state_dir or default_state_dir()) / FILE_NAME
        DrillStore(path).save(report)
    except (sqlite3.Error, OSError, McuControlError) as exc:
        message = (
            f"the drill result {report.id} could not be stored in {path} ({exc}); its verdict "
            f"above stands — free space or fix the file, later drills are stored again"
        )
        log.warning("%s", message)
        return message
    return None
