"""The importable job function stored in the persistent job store.

APScheduler pickles a reference to ``scheduler.runner:run_job`` and its plain-string arguments;
at run time the call is dispatched to the `SessionScheduler` the daemon installed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.service import SessionScheduler

JOB_FUNC = "scheduler.runner:run_job"
log = logging.getLogger("mcu_control.scheduler")
_active: SessionScheduler | None = None


def install(target: SessionScheduler | None) -> None:
    """Route run_job calls to `target` (None: nothing installed, jobs are refused)."""
    global _active  # noqa: PLW0603 — the one hook a persistent job store can reach
    _active = target


async def run_job(
    kind: str, session_id: str, occurrence_iso: str, label: str = "", run_at: str = ""
) -> None:
    """Run one planned job of one session occurrence."""
    if _active is None:
        log.error(
            "job %s@%s#%s fired with no scheduler installed", session_id, occurrence_iso, kind
        )
        return
    await _active.execute(kind, session_id, occurrence_iso, label, run_at)
