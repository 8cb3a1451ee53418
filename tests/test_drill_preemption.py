"""The bring-up stops a drill still running when it falls due; the drill is recorded interrupted."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mcu_control import bringup, orchestrator
from mcu_control.audit import AuditLog
from mcu_control.runtime import OrchestratorActions, SiteHolder
from mcu_control.state import StateStore
from profiles.loader import SHIPPED_SITES, load_profile
from scheduler.actions import JobInterrupted
from scheduler.calendar import Occurrence

TZ = dt.timezone(dt.timedelta(hours=7))


class HangingDrill:
    """A drill whose devices never answer; it records that its clean-up ran."""

    cleaned: list[str] = []  # noqa: RUF012 — reset by the fixture

    def __init__(self, site: Any, *, label: str, points: list[str] | None = None, **_: Any) -> None:
        self.label = label

    def planned_checks(self) -> int:
        return 1

    async def run(self) -> Any:
        try:
            await asyncio.Event().wait()
        finally:
            HangingDrill.cleaned.append(self.label)


@pytest.fixture
def actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OrchestratorActions:
    HangingDrill.cleaned = []
    brought_up: list[str] = []

    async def fake_bringup(site: Any, points: list[str] | None = None, **_: Any) -> Any:
        brought_up.append("bringup")
        return SimpleNamespace(connected=9, points=[None] * 9, recording=True)

    monkeypatch.setattr(orchestrator, "Drill", HangingDrill)
    monkeypatch.setattr(bringup, "bringup", fake_bringup)
    loaded = load_profile(SHIPPED_SITES / "demo.yaml")
    store = StateStore()
    store.seed(loaded.profile)
    holder = SiteHolder(loaded, store, AuditLog(tmp_path / "audit.jsonl"))
    acts = OrchestratorActions(holder, tmp_path)
    acts.brought_up = brought_up  # type: ignore[attr-defined]
    return acts


def occurrence() -> Occurrence:
    start = dt.datetime(2026, 12, 10, 8, tzinfo=TZ)
    return Occurrence("phien", "Phiên", start, start + dt.timedelta(hours=3))


async def test_the_bring_up_stops_a_running_drill_and_goes_on(actions: OrchestratorActions) -> None:
    occ = occurrence()
    drill = asyncio.create_task(actions.drill(occ, label="T-2h"))
    await asyncio.sleep(0.05)
    assert not drill.done()  # the drill holds the orchestration lock
    await asyncio.wait_for(actions.bringup(occ), 5)
    assert actions.brought_up == ["bringup"]  # type: ignore[attr-defined]
    with pytest.raises(JobInterrupted, match="the bring-up was due"):
        await drill
    assert HangingDrill.cleaned == ["T-2h"]  # the drill's own clean-up ran


async def test_a_shutdown_still_cancels_the_drill_as_a_cancellation(
    actions: OrchestratorActions,
) -> None:
    drill = asyncio.create_task(actions.drill(occurrence(), label="T-1d"))
    await asyncio.sleep(0.05)
    drill.cancel()
    with pytest.raises(asyncio.CancelledError):
        await drill
    assert HangingDrill.cleaned == ["T-1d"]
