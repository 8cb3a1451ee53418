"""The daemon announces the next session from the calendar at start and after every change."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcu_control.daemon import Daemon, DaemonConfig
from mcu_control.state import SessionPhase
from profiles.loader import load_profile
from scheduler.calendar import AddedSession
from scheduler.db import ScheduleDb

VN = dt.timezone(dt.timedelta(hours=7))


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_next_session_is_announced_at_start_and_after_a_schedule_change(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    far = (dt.datetime.now(VN) + dt.timedelta(days=40)).replace(microsecond=0)
    demo_profile_data["sessions"]["rules"] = []
    demo_profile_data["sessions"]["one_off"] = [
        {
            "id": "phien-xa",
            "title": "Phiên tháng sau",
            "date": far.date().isoformat(),
            "start": "08:00:00",
            "duration": "1h",
        }
    ]
    state = tmp_path / "state"
    daemon = Daemon(
        load_profile(write_profile(demo_profile_data)),
        state_dir=state,
        config=DaemonConfig(leader_poll_s=0.05, node_id="a"),
    )
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        # weeks before the first job runs, the store (hence the feed) already knows the date
        await until(lambda: daemon.store.session.session_id is not None)
        session = daemon.store.session
        assert session.phase is SessionPhase.IDLE
        assert session.title == "Phiên tháng sau"
        assert session.starts_at == dt.datetime.combine(far.date(), dt.time(8), VN)

        # a `schedule add` of an earlier session moves the countdown within a poll
        sooner = far.date() - dt.timedelta(days=30)
        db = ScheduleDb(f"sqlite:///{state / 'scheduler.sqlite'}")
        db.add_change(AddedSession("them", "Phiên thêm", sooner, dt.time(9, 0), 3600))
        db.dispose()
        await until(lambda: daemon.store.session.title == "Phiên thêm")
        assert daemon.store.session.starts_at == dt.datetime.combine(sooner, dt.time(9), VN)
    finally:
        daemon.request_stop()
        await task
