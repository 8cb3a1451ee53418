"""Sessions over MQTT and on schedule (issue 18): `drill`/`bringup` with a `session` run that
session's roster (profile rule or `schedule add`), an unknown session or `session` with
`points` runs nothing; the scheduler passes a national occurrence's flag to the orchestrator.
Real mosquitto, a daemon on the simulated rig."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

from daemon_support import until_active_online
from mqtt_support import Recorder, mosquitto

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from mcu_control.app import FeedOptions, build_daemon
from mcu_control.audit import AuditLog
from mcu_control.orchestrator import Orchestrator
from mcu_control.results import BringupReport, DrillReport
from mcu_control.runtime import OrchestratorActions, SiteHolder
from mcu_control.state import StateStore
from profiles import load_profile
from profiles.naming import UPSTREAM_PARTICIPANT
from scheduler.calendar import AddedSession, Occurrence

from .conftest import fast

EAST = ["que-vo", "gia-binh", "luong-tai"]
UPSTREAM = {"address": "sip:9000@127.0.0.1"}


def _data() -> dict[str, Any]:
    data = fast(remap_ports(demo_data()))
    for point in data["points"]:
        if point["id"] in EAST:
            point["groups"] = ["dong"]
    data["sessions"]["rules"][0]["roster"] = ["tien-du", "dong"]
    return data


def _audit(state: Path) -> list[dict[str, Any]]:
    return AuditLog(state / "audit.jsonl").records()


async def test_mqtt_drill_and_bringup_of_a_session_run_its_roster(tmp_path: Path) -> None:
    data = _data()
    data["upstream"] = UPSTREAM
    actions = ["drill", "bringup"]
    with mosquitto(tmp_path / "broker") as broker:
        data["mqtt"] = {
            "url": broker.url(),
            "commands": {"enabled": True, "allow": actions, "timeout_s": 60},
        }
        loaded = load_profile(write_profile(data, tmp_path))
        rig = Rig(loaded, load_scenario("normal"))
        await rig.start()
        state = tmp_path / "state"
        daemon = build_daemon(loaded, state_dir=state, feed=FeedOptions(), supervise_interval_s=5.0)
        daemon.db.create()  # a session added with `schedule add` (its own roster)
        day = dt.date.today() + dt.timedelta(days=20)
        added = AddedSession("them", "Phiên bổ sung", day, dt.time(9), 3600, ("gia-binh",))
        daemon.db.add_change(added)
        national = AddedSession("tq", "Toàn quốc", day, dt.time(14), 3600, ("que-vo",), True)
        daemon.db.add_change(national)
        task = asyncio.create_task(daemon.run(install_signals=False))
        prefix = f"mcu-control/{loaded.profile.site.id}"
        rec = Recorder(broker.port, [f"{prefix}/cmd/+/reply", f"{prefix}/status"])

        async def ask(action: str, request_id: str, params: dict[str, Any]) -> dict[str, Any]:
            body = json.dumps({"id": request_id, "params": params})
            rec.client.publish(f"{prefix}/cmd/{action}", body, qos=1)
            reply: dict[str, Any] = await asyncio.to_thread(rec.reply, request_id)
            return reply

        try:
            await until_active_online(daemon, rec, prefix)

            # refused before anything runs: an unknown session, a session with points
            reply = await ask("drill", "d0", {"session": "khong-co"})
            assert reply["ok"] is False and reply["error"]["code"] == "bad-params"
            assert "khong-co" in reply["error"]["message"]
            assert "them" in reply["error"]["message"]  # the known sessions, added ones too
            both = {"session": "them", "points": ["que-vo"]}
            reply = await ask("bringup", "b0", both)
            assert reply["ok"] is False and reply["error"]["code"] == "bad-params"
            records = _audit(state)
            outcomes = {
                r["data"]["id"]: r["data"]["outcome"]
                for r in records
                if r["action"].startswith("mqtt.command.")
            }
            assert (outcomes["d0"], outcomes["b0"]) == ("bad-params", "bad-params")
            ran = [r["action"] for r in records if r["action"] in ("drill.start", "bringup.start")]
            assert ran == []

            # a profile rule's roster: the drill tests exactly those points
            reply = await ask("drill", "d1", {"session": "bi-thu-hang-quy", "quick": True})
            assert reply["ok"] is True, reply
            result = reply["result"]
            assert set(result["points"]) == {"trung-tam", "tien-du", *EAST}
            assert (result["session"], result["national"]) == ("bi-thu-hang-quy", False)

            # a national session: the drill is told so (it tests the upstream link too)
            reply = await ask("drill", "d2", {"session": "tq", "quick": True})
            assert reply["ok"] is True, reply
            assert {"trung-tam", "que-vo"} <= set(reply["result"]["points"])
            assert reply["result"]["national"] is True

            # a session added with `schedule add`: the bring-up dials exactly its roster
            reply = await ask("bringup", "b1", {"session": "them"})
            assert reply["ok"] is True, reply
            result = reply["result"]
            assert (result["connected"], result["total"], result["session"]) == (2, 2, "them")
            [start] = [r for r in _audit(state) if r["action"] == "bringup.start"]
            assert start["data"]["points"] == ["trung-tam", "gia-binh"]
        finally:
            rec.close()
            daemon.request_stop()
            await task
            await rig.stop()


class _SpyHolder(SiteHolder):
    """The daemon's holder, noting the `national` flag each drill and bring-up is given."""

    calls: list[tuple[str, bool]]

    def orchestrator(self, *, lock_wait_s: float = 0.0) -> Orchestrator:
        calls = self.calls
        base = super().orchestrator(lock_wait_s=lock_wait_s)

        class Noting(Orchestrator):
            async def drill(self, **kw: Any) -> DrillReport:
                calls.append(("drill", kw.get("national", False)))
                return await super().drill(**kw)

            async def bringup(self, **kw: Any) -> BringupReport:
                calls.append(("bringup", kw.get("national", False)))
                return await super().bringup(**kw)

        return Noting(base.site, state_dir=base.state_dir, lock_wait_s=lock_wait_s)


async def test_scheduled_runs_of_a_national_session_are_national(tmp_path: Path) -> None:
    data = _data()
    data["upstream"] = UPSTREAM
    loaded = load_profile(write_profile(data, tmp_path))
    rig = Rig(loaded, load_scenario("normal"))
    await rig.start()
    store = StateStore()
    store.seed(loaded.profile)
    holder = _SpyHolder(loaded, store, AuditLog(tmp_path / "audit.jsonl"))
    holder.calls = []
    actions = OrchestratorActions(holder, tmp_path)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
    end = start + dt.timedelta(hours=1)
    occ = Occurrence("tq", "Phiên toàn quốc", start, end, roster=("dong",), national=True)
    local = Occurrence("dp", "Phiên tỉnh", start, end, roster=("dong",))
    try:
        await actions.drill(occ, label="T-2h")
        assert store.session.national is True
        assert [(link.id, link.kind) for link in store.session.links] == [
            (UPSTREAM_PARTICIPANT, "upstream")
        ]
        await actions.bringup(occ)
        await actions.teardown(occ)
        await actions.drill(local, label="T-1d")
        assert store.session.national is False and store.session.links == ()
        assert holder.calls == [("drill", True), ("bringup", True), ("drill", False)]
        assert store.session.points == ("trung-tam", *EAST)
    finally:
        await holder.site.close()
        await rig.stop()
