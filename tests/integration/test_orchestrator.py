"""End to end on the simulated rig: drill verdicts, bring-up, idempotence, resume, teardown."""

from __future__ import annotations

from devices.interfaces import CallState
from mcu_control.bringup import bringup, teardown
from mcu_control.drill import Drill
from mcu_control.results import Verdict
from mcu_control.state import PointPhase
from mcu_control.status import poll

from .conftest import RigFactory


async def test_bringup_connects_all_nine_points(rig_site: RigFactory) -> None:
    async with rig_site("normal") as (site, _rig):
        report = await bringup(site)
        assert report.connected == 9, [p.to_dict() for p in report.points if not p.connected]
        assert report.recording, report.recording_reason
        assert report.verdict is Verdict.PASS, report.to_dict()
        mcu = await site.mcu()
        parts = {p.name: p for p in await mcu.participants(site.profile.mcu.conference.name)}
        assert {p.id for p in site.profile.points} <= set(parts)
        assert all(parts[p.id].call_state is CallState.CONNECTED for p in site.profile.points)
        assert parts["recorder"].call_state is CallState.CONNECTED
        for point in site.profile.points:
            for step in [s for r in report.points if r.point == point.id for s in r.steps]:
                assert step.verdict is Verdict.PASS, step
            if point.mixer is not None:
                mixer = await site.mixer(point)
                for ch in point.mixer.session_channels:
                    assert await mixer.get_mute(ch) is False
            for cam in point.cameras:
                status = await (await site.camera(point, cam)).status()
                assert status.moving in (False, None)
        assert all(s.phase is PointPhase.IN_SESSION for s in site.store.points.values())


async def test_bringup_twice_adds_no_duplicates(rig_site: RigFactory) -> None:
    async with rig_site("normal") as (site, _rig):
        first = await bringup(site)
        assert first.connected == 9
        second = await bringup(site)
        assert second.connected == 9
        assert all(p.adopted for p in second.points)
        assert all(p.attempts == 0 for p in second.points)
        mcu = await site.mcu()
        names = [p.name for p in await mcu.participants(site.profile.mcu.conference.name)]
        assert len(names) == len(set(names)) == 10  # 9 points + the recorder


async def test_busy_point_fails_after_retries_others_connect(rig_site: RigFactory) -> None:
    async with rig_site("one-point-busy") as (site, _rig):
        report = await bringup(site)
        assert report.connected == 8
        failed = [p for p in report.points if not p.connected]
        assert [p.point for p in failed] == ["tien-du"]
        assert "busy" in failed[0].reason.lower()
        assert failed[0].attempts == site.profile.bringup.dial_attempts
        assert int(report.exit_code) == 2
        assert site.store.points["tien-du"].phase is PointPhase.OFFLINE


async def test_resume_after_restart_adopts_connected_points(rig_site: RigFactory) -> None:
    async with rig_site("normal") as (site, _rig):
        partial = await bringup(site, points=["tp-bac-ninh", "tien-du", "que-vo"])
        assert partial.connected == 3
        # a new Site is what a restarted daemon has: no memory, only what the MCU says
        from mcu_control.site import Site

        fresh = Site(site.loaded)
        try:
            report = await bringup(fresh)
        finally:
            await fresh.close()
        assert report.connected == 9
        adopted = {p.point for p in report.points if p.adopted}
        assert adopted == {"tp-bac-ninh", "tien-du", "que-vo"}


async def test_drill_all_pass_on_normal_rig(rig_site: RigFactory) -> None:
    async with rig_site("normal") as (site, _rig):
        seen: list[object] = []
        report = await Drill(site, progress=seen.append).run()
        bad = [
            c.to_dict() for p in report.points for c in p.checks if c.verdict is not Verdict.PASS
        ]
        assert report.verdict is Verdict.PASS, bad
        assert len(seen) == sum(len(p.checks) for p in report.points)
        checks = {c.check for p in report.points for c in p.checks}
        assert {
            "codec.reachability",
            "camera.identity",
            "camera.clock",
            "camera.preset",
            "mixer.health",
            "mixer.channels",
            "mcu.health",
            "recorder.link",
            "call.test",
        } <= checks
        assert site.store.last_drill is not None and site.store.last_drill["verdict"] == "pass"
        # the drill leaves nothing behind on the MCU
        mcu = await site.mcu()
        assert all(not c.name.endswith("-KT") for c in await mcu.conferences())


async def test_drill_busy_point_fails_others_pass(rig_site: RigFactory) -> None:
    async with rig_site("one-point-busy") as (site, _rig):
        report = await Drill(site, quick=True).run()
        verdicts = {p.point: p.verdict for p in report.points}
        assert verdicts.pop("tien-du") is Verdict.FAIL
        assert set(verdicts.values()) == {Verdict.PASS}
        call = next(
            c
            for p in report.points
            if p.point == "tien-du"
            for c in p.checks
            if c.check == "call.test"
        )
        assert "busy" in call.reason.lower()
        assert int(report.exit_code) == 2


async def test_drill_warns_on_3pct_loss(rig_site: RigFactory) -> None:
    async with rig_site("loss-3pct") as (site, _rig):
        report = await Drill(site, points=["que-vo", "gia-binh"], quick=True).run()
        verdicts = {p.point: p.verdict for p in report.points}
        assert verdicts == {"que-vo": Verdict.WARN, "gia-binh": Verdict.PASS}
        call = next(
            c
            for p in report.points
            if p.point == "que-vo"
            for c in p.checks
            if c.check == "call.test"
        )
        assert 1.0 < call.data["loss_pct"] < 5.0
        assert int(report.exit_code) == 1


async def test_drill_warns_on_camera_clock_offset(rig_site: RigFactory) -> None:
    async with rig_site("camera-clock-2h") as (site, _rig):
        report = await Drill(site, points=["yen-phong"], quick=True).run()
        clock = next(c for c in report.points[0].checks if c.check == "camera.clock")
        assert clock.verdict is Verdict.WARN
        assert abs(clock.data["offset_s"] - 7200) < 5
        assert "7200 s ahead" in clock.reason
        identity = next(c for c in report.points[0].checks if c.check == "camera.identity")
        assert identity.verdict is Verdict.PASS  # it still authenticated


async def test_drill_dead_mixer_fails_only_its_point(rig_site: RigFactory) -> None:
    async with rig_site("mixer-down") as (site, _rig):
        report = await Drill(site, quick=True).run()
        verdicts = {p.point: p.verdict for p in report.points}
        assert verdicts.pop("tx-tu-son") is Verdict.FAIL
        assert set(verdicts.values()) == {Verdict.PASS}
        mixer_checks = [
            c
            for p in report.points
            if p.point == "tx-tu-son"
            for c in p.checks
            if c.check.startswith("mixer")
        ]
        assert all(
            c.verdict is Verdict.FAIL and "tx-tu-son.mixer" in c.reason for c in mixer_checks
        )
        assert max(c.duration_s for c in mixer_checks) < 5.0


async def test_teardown_and_status(rig_site: RigFactory) -> None:
    async with rig_site("normal") as (site, _rig):
        await bringup(site)
        snap = await poll(site, timeout_s=3.0)
        phases = {p["id"]: p["phase"] for p in snap["points"]}
        assert set(phases.values()) == {"in-session"}, phases
        assert next(p for p in snap["points"] if p["role"] == "central")["recording"] is True
        result = await teardown(site)
        assert result["ok"], result
        mcu = await site.mcu()
        assert await mcu.participants(site.profile.mcu.conference.name) == []
        for point in site.profile.points:
            if point.mixer is not None:
                mixer = await site.mixer(point)
                for ch in point.mixer.session_channels:
                    assert await mixer.get_mute(ch) is True
        snap = await poll(site, timeout_s=3.0)
        assert {p["phase"] for p in snap["points"]} == {"ready"}
