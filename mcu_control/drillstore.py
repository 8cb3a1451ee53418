"""Drill results kept in SQLite under the state directory, for reports and the last-drill view."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from mcu_control.results import DrillReport

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
        path.parent.mkdir(parents=True, exist_ok=True)
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
        return [{"id": r[0], "label": r[1], "started_at": r[2], "verdict": r[3]} for r in rows]

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)
