"""State store: changes are kept and announced once; unchanged writes are silent."""

from __future__ import annotations

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
