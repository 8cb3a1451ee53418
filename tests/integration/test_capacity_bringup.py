"""The bring-up never dials more than the MCUs' ports take, and names what it left out."""

from __future__ import annotations

from pathlib import Path

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from mcu_control.audit import AuditLog
from mcu_control.bringup import bringup
from mcu_control.drill import Drill
from mcu_control.site import Site
from profiles import load_profile

from .conftest import fast

TINY = "kind: mcu\nname: tiny-mcu\nmanufacturer: Test\nfamily: codian\nmax_conferences: 10\nmax_video_ports: 6\n"


async def test_bringup_dials_what_fits_and_names_the_rest_in_roster_order(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny-mcu.yaml").write_text(TINY, encoding="utf-8")
    data = fast(remap_ports(demo_data()))
    data["points"][0]["mcu"]["model"] = "tiny-mcu"
    for point in data["points"]:
        if point.get("mixer"):
            point["mixer"]["timeout_s"] = 5.0
    loaded = load_profile(write_profile(data, tmp_path))
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    audit = AuditLog(tmp_path / "audit.jsonl")
    site = Site(loaded, audit=audit, actor="test")
    try:
        # roster order as a session gives it: Lương Tài and Gia Bình first after the centre
        roster = ["trung-tam", "luong-tai", "gia-binh", "tien-du", "que-vo", "tp-bac-ninh",
                  "yen-phong", "thuan-thanh"]  # fmt: skip
        report = await bringup(site, points=roster)
        # 6 ports: the recorder and 5 points; the last 3 of the roster are not dialled
        dialled = [p.point for p in report.points if p.attempts or p.connected]
        assert set(dialled) == set(roster[:5])
        assert report.connected == 5
        refused = [p for p in report.points if not p.connected]
        assert [p.point for p in refused] == roster[5:]
        assert all("left out" in p.reason and "needs 9 video ports" in p.reason for p in refused)
        assert all(p.attempts == 0 for p in refused)
        assert report.exit_code == 2
        mcu_calls = {p.name for p in await (await site.mcu()).participants("TCD-BacNinh")}
        assert not mcu_calls & set(roster[5:])
        assert "bringup.not-dialled" in [r["action"] for r in audit.records()]
    finally:
        await site.close()
        await rig.stop()


async def test_the_drill_fails_the_points_the_bringup_would_leave_out(tmp_path: Path) -> None:
    """A drill that passes predicts the bring-up: what will not be dialled fails its test call."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny-mcu.yaml").write_text(TINY, encoding="utf-8")
    data = fast(remap_ports(demo_data()))
    data["points"][0]["mcu"]["model"] = "tiny-mcu"
    loaded = load_profile(write_profile(data, tmp_path))
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    site = Site(loaded, audit=AuditLog(tmp_path / "audit.jsonl"), actor="test")
    try:
        roster = ["trung-tam", "luong-tai", "gia-binh", "tien-du", "que-vo", "tp-bac-ninh",
                  "yen-phong", "thuan-thanh"]  # fmt: skip
        report = await Drill(site, points=roster, quick=True, label="T-2h").run()
        calls = {c.point: c for p in report.points for c in p.checks if c.check == "call.test"}
        for pid in roster[5:]:
            assert calls[pid].verdict.value == "fail"
            assert "would not dial" in calls[pid].reason and "left out" in calls[pid].reason
        for pid in roster[:5]:
            assert "would not dial" not in calls[pid].reason
            assert calls[pid].verdict.value == "pass", calls[pid].reason
        assert report.exit_code == 2
    finally:
        await site.close()
        await rig.stop()
