"""State store: changes are kept and announced once; unchanged writes are silent."""

from __future__ import annotations

from typing import Any

from devices.health import HealthState
from mcu_control.state import DeviceState, PointPhase, PointState, StateStore


async def test_only_real_changes_are_announced() -> None:
    store = StateStore()
    q = store.subscribe()
    assert store.put_point(PointState("tien-du", "Huyện Tiên Du", "component"))
    assert not store.put_point(PointState("tien-du", "Huyện Tiên Du", "component"))
    assert store.update_point("tien-du", phase=PointPhase.IN_SESSION)
    changes = [q.get_nowait(), q.get_nowait()]
    assert q.empty()
    assert [c.payload["phase"] for c in changes] == ["unknown", "in-session"]
    assert changes[1].payload["name"] == "Huyện Tiên Du"


async def test_device_updates_and_snapshot() -> None:
    store = StateStore()
    store.put_device(DeviceState("tien-du.cam1", "tien-du", "camera", "Camera", "visca-serial"))
    assert store.update_device("tien-du.cam1", health=HealthState.OK, connected=True)
    assert not store.update_device("tien-du.cam1", health=HealthState.OK, connected=True)
    snap = store.snapshot()
    assert snap["devices"][0]["health"] == "ok"
    assert snap["session"]["phase"] == "idle"


async def test_slow_subscriber_drops_oldest_without_blocking() -> None:
    store = StateStore()
    q = store.subscribe(maxsize=2)
    for i in range(5):
        store.event("tick", n=i)
    assert [q.get_nowait().payload["n"] for _ in range(2)] == [3, 4]


async def test_seed_from_profile_has_every_point_and_device() -> None:
    from pathlib import Path

    from profiles import load_profile

    loaded = load_profile(Path(__file__).resolve().parent.parent / "profiles/sites/bac-ninh.yaml")
    store = StateStore()
    store.seed(loaded.profile)
    assert len(store.points) == 9
    assert store.points["luong-tai"].name == "Huyện Lương Tài"
    assert store.devices["trung-tam.mcu"].kind == "mcu"
    assert store.devices["trung-tam.recorder"].kind == "recorder"
    assert {d.kind for d in store.devices.values()} == {
        "mcu",
        "recorder",
        "codec",
        "camera",
        "mixer",
    }


class _Clock:
    def __init__(self) -> None:
        import datetime as dt

        self.now = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> Any:
        return self.now

    def advance(self, seconds: float) -> None:
        import datetime as dt

        self.now += dt.timedelta(seconds=seconds)


def _changes(q: Any) -> list[dict[str, Any]]:
    out = []
    while not q.empty():
        out.append(q.get_nowait().payload)
    return out


async def test_figures_that_move_at_every_read_are_told_by_exception() -> None:
    """A codec's rtt jitter or a mixer's uptime is kept for `status` but not sent at every read;
    a move beyond the deadband, any other change, or the refresh period sends it."""
    from mcu_control.state import MEASUREMENT_REFRESH_S

    clock = _Clock()
    store = StateStore(clock=clock)
    store.put_device(DeviceState("que-vo.codec", "que-vo", "codec", "Codec", "sip"))
    q = store.subscribe()

    def read(rtt: float, *, uptime: float = 100.0, health: HealthState = HealthState.OK) -> bool:
        clock.advance(15)
        details = {"rtt_ms": rtt, "method": "sip-options-udp", "uptime_s": uptime}
        return store.update_device("que-vo.codec", health=health, details=details)

    assert read(0.4)
    assert _changes(q)[-1]["details"]["rtt_ms"] == 0.4
    assert not read(0.9, uptime=115.0)  # jitter and a running counter: not news ...
    assert not read(3.2, uptime=130.0)
    assert _changes(q) == []
    assert store.devices["que-vo.codec"].details["rtt_ms"] == 3.2  # ... but `status` has it
    assert read(9.0)  # 8.6 ms above what subscribers last heard: news
    assert _changes(q)[-1]["details"]["rtt_ms"] == 9.0
    assert read(9.5, health=HealthState.DEGRADED)  # a real change carries the latest figures
    assert _changes(q)[-1]["details"]["rtt_ms"] == 9.5
    quiet = 0
    while not read(9.1 + quiet % 2, health=HealthState.DEGRADED) and quiet < 100:
        quiet += 1
    assert quiet == MEASUREMENT_REFRESH_S // 15 - 1  # refreshed once the period has passed
    assert _changes(q)[-1]["details"]["rtt_ms"] == 9.1 + quiet % 2


async def test_a_figure_without_a_deadband_is_always_news() -> None:
    store = StateStore()
    store.put_device(DeviceState("que-vo.mixer", "que-vo", "mixer", "Mixer", "snmp"))
    q = store.subscribe()
    assert store.update_device("que-vo.mixer", details={"sensor1": 41.0})
    assert store.update_device("que-vo.mixer", details={"sensor1": 41.5})
    assert store.update_device("que-vo.mixer", details={"sensor1": 41.5, "rtt_ms": 1.0})
    assert len(_changes(q)) == 3
