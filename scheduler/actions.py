"""What the scheduler calls at each planned time; the daemon hands in the real implementation."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from scheduler.calendar import Occurrence

log = logging.getLogger("mcu_control.scheduler")


class JobInterrupted(Exception):  # noqa: N818 — a signal, not an error
    """Raised by an action stopped on purpose before its end (a drill the bring-up pre-empts).

    The ledger records the job `interrupted` with this message, not `failed`.
    """


class SessionActions(Protocol):
    """The orchestrator as the scheduler sees it."""

    async def drill(self, occurrence: Occurrence, *, label: str) -> None:
        """Run the pre-session connectivity drill (`label` is "T-1d", "T-2h", …)."""
        ...

    async def bringup(self, occurrence: Occurrence) -> None:
        """Connect, position, unmute and record everything for the session."""
        ...

    async def teardown(self, occurrence: Occurrence) -> None:
        """Disconnect and stop recording at the session's end."""
        ...


class AuditSink(Protocol):
    """mcu_control.audit.AuditLog.append, or anything with its signature."""

    def __call__(
        self, action: str, *, actor: str = ..., target: str | None = ..., **data: Any
    ) -> Any: ...


class LoggingActions:
    """Placeholder actions: log and audit what would run (the orchestrator replaces them)."""

    def __init__(self, audit: AuditSink | None = None) -> None:
        self._audit = audit
        self.calls: list[tuple[str, str, str]] = []  # (kind, occurrence key, label)

    async def drill(self, occurrence: Occurrence, *, label: str) -> None:
        self._record("drill", occurrence, label)

    async def bringup(self, occurrence: Occurrence) -> None:
        self._record("bringup", occurrence, "")

    async def teardown(self, occurrence: Occurrence) -> None:
        self._record("teardown", occurrence, "")

    def _record(self, kind: str, occ: Occurrence, label: str) -> None:
        self.calls.append((kind, occ.key, label))
        log.info("session %s: %s %s (no orchestrator: logged only)", occ.key, kind, label)
        if self._audit is not None:
            self._audit(
                f"session.{kind}",
                actor="scheduler",
                target=occ.key,
                label=label,
                title=occ.title,
                placeholder=True,
            )
