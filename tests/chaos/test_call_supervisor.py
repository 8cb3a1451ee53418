"""The MCU stops answering in the middle of a session: the call supervisor must not lie.

While the MCU's API is silent nobody knows the calls' state; the points must not be shown
"ready" (not in a call) — they become "unknown" with the reason — and they return to
"in-session" on their own when the MCU answers again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from chaos.conftest import RigFactory
from mcu_control.bringup import bringup
from mcu_control.site import Site
from mcu_control.state import PointPhase
from mcu_control.supervisor import CallSupervisor

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


FAULTS: list[dict[str, object]] = [{"delay_s": 30.0}, {"malformed": True}, {"drop": True}]


async def test_mcu_fault_mid_session_shows_unknown_then_recovers(chaos_rig: RigFactory) -> None:
    async with chaos_rig() as (site, rig, loaded):
        assert (await bringup(site)).connected == 9
        ids = [p.id for p in loaded.profile.points]
        calls = CallSupervisor(site, interval_s=0.1, timeout_s=0.5)
        calls.start()
        try:
            await _until(lambda: _phases(site, ids) == {PointPhase.IN_SESSION})
            for fault in FAULTS:  # one rig for the three: silent, garbage, dropped connection
                rig.mcu.faults.set(**fault)
                await _until(lambda: _phases(site, ids) != {PointPhase.IN_SESSION})
                await asyncio.sleep(0.6)  # a few more polls while the MCU is away
                assert _phases(site, ids) == {PointPhase.UNKNOWN}, (fault, _phases(site, ids))
                reason = site.store.points[ids[0]].reason
                assert "trung-tam.mcu" in reason, (fault, reason)
                rig.mcu.faults.clear()
                await _until(lambda: _phases(site, ids) == {PointPhase.IN_SESSION})
        finally:
            await calls.stop()


def _phases(site: Site, ids: list[str]) -> set[PointPhase]:
    return {site.store.points[i].phase for i in ids}


async def _until(cond: Callable[[], bool], timeout_s: float = 6.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.02)


async def test_between_sessions_it_reads_rarely_and_a_step_wakes_it(chaos_rig: RigFactory) -> None:
    """No session: the MCU is asked every idle interval, not every few seconds; this daemon's
    own bring-up wakes it at once, and in session it reads at its short interval again."""
    async with chaos_rig() as (site, rig, _loaded):
        calls = CallSupervisor(site, interval_s=0.1, idle_interval_s=30.0, timeout_s=2.0)
        before = rig.mcu.calls["conference.enumerate"]
        calls.start()
        try:
            await asyncio.sleep(1.0)  # 10 short intervals: one read at start, then asleep
            idle_reads = rig.mcu.calls["conference.enumerate"] - before
            assert idle_reads == 1, idle_reads
            report = await bringup(site)  # its steps wake the supervisor
            assert report.connected == 9
            at = rig.mcu.calls["conference.enumerate"]
            await asyncio.sleep(1.0)
            assert rig.mcu.calls["conference.enumerate"] - at >= 5  # in session: short interval
            assert site.store.points["tien-du"].phase is PointPhase.IN_SESSION
        finally:
            await calls.stop()
