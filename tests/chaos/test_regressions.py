"""Small regression tests for bugs the fault-injection cases found (see docs/testing.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mcu_control.daemon import Daemon, DaemonConfig
from mcu_control.state import StateStore
from profiles.loader import SHIPPED_SITES, load_profile

pytestmark = pytest.mark.chaos


def test_scheduler_events_with_a_kind_field_reach_the_store(tmp_path: Path) -> None:
    """Scheduler events carry `kind` (the job's kind); the store must publish them, not raise."""
    daemon = Daemon(
        load_profile(SHIPPED_SITES / "demo.yaml"),
        state_dir=tmp_path,
        config=DaemonConfig(node_id="regression"),
    )
    queue = daemon.store.subscribe()
    payload = {"job_id": "phien@x#bringup", "kind": "bringup", "label": "T-15m"}
    daemon._on_event("job-started", payload)
    change = queue.get_nowait()
    assert change.key == "job-started"
    assert change.payload["type"] == "job-started"
    assert change.payload["kind"] == "bringup"
    daemon.db.dispose()


def test_store_event_type_is_not_overridden_by_payload() -> None:
    store = StateStore(clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    q = store.subscribe()
    store.event("job-failed", kind="drill", message="boom")
    change = q.get_nowait()
    assert (change.key, change.payload["type"], change.payload["kind"]) == (
        "job-failed",
        "job-failed",
        "drill",
    )
