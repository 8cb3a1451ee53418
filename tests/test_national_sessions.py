"""National sessions (issue 18, point 4): `schedule add --national`, its storage, and the
next-session announcement with the planned national and cascade links."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from test_schedule_cli import mcu

from mcu_control.roster import next_session
from mcu_control.state import LinkPhase, SessionLink
from profiles.loader import load_profile
from profiles.naming import UPSTREAM_PARTICIPANT, cascade_name
from scheduler.calendar import AddedSession, Calendar
from scheduler.db import ScheduleDb

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = {"name": "Trụ sở Tiếp công dân Trung ương", "address": "sip:9000@10.0.0.1"}
TINY = "kind: mcu\nname: tiny-mcu\nmanufacturer: Test\nfamily: codian\nmax_conferences: 10\nmax_video_ports: 6\n"


def test_schedule_add_national_needs_upstream_and_is_listed(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    day = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    add = ("schedule", "add", "toan-quoc", day, "08:00", "--title", "Phiên toàn quốc")
    no_upstream = write_profile(demo_profile_data)
    r = mcu(tmp_path, *add, "--national", profile=no_upstream)
    assert r.returncode == 3, r.stderr
    assert "upstream" in r.stderr and "Traceback" not in r.stderr
    changes = json.loads(mcu(tmp_path, "schedule", "changes", "--json", profile=no_upstream).stdout)
    assert changes["changes"] == []  # refused before anything was stored

    data = copy.deepcopy(demo_profile_data)
    data["upstream"] = UPSTREAM
    path = write_profile(data)
    r = mcu(tmp_path, *add, "--national", "--json", profile=path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["change"]["national"] is True
    r = mcu(
        tmp_path, "schedule", "add", "dia-phuong", day, "14:00", "--title", "Tỉnh", profile=path
    )
    assert r.returncode == 0, r.stderr

    listed = mcu(tmp_path, "schedule", "list", "--from", day, "--to", day, "--json", profile=path)
    assert listed.returncode == 0, listed.stderr
    flags = {s["session_id"]: s["national"] for s in json.loads(listed.stdout)["sessions"]}
    assert (flags["toan-quoc"], flags["dia-phuong"]) == (True, False)
    human = mcu(tmp_path, "schedule", "list", "--from", day, "--to", day, profile=path)
    assert human.returncode == 0, human.stderr
    rows = human.stdout.split("dia-phuong")
    assert "national" in rows[0] and "national" not in rows[1]  # only the national session


def test_national_flag_is_stored_and_old_rows_read_as_not_national(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scheduler.sqlite'}"
    day, at = dt.date(2027, 5, 4), dt.time(8)
    db = ScheduleDb(url)
    db.create()
    old = db.add_change(AddedSession("cu", "Cũ", day, at, 3600))
    with db.engine.begin() as conn:  # a database from before `--national`
        conn.execute(sa.text("DROP TABLE mcu_schedule_national"))
    db.dispose()

    db = ScheduleDb(url)
    db.create()  # adds the missing table; the old row is not national
    national = db.add_change(AddedSession("tq", "TQ", day, at, 3600, ("dong",), national=True))
    found = {r.change.session_id: r.change for r in db.changes()}
    assert isinstance(found["cu"], AddedSession) and found["cu"].national is False
    assert isinstance(found["tq"], AddedSession) and found["tq"].national is True
    assert found["tq"].roster == ("dong",)
    assert national.to_dict()["national"] is True
    db.remove_change(national.id)
    again = db.add_change(AddedSession("tq2", "TQ2", day, at, 3600))
    assert {r.id for r in db.changes()} == {old.id, again.id}
    assert all(not getattr(r.change, "national", False) for r in db.changes())
    db.dispose()


def test_next_session_announces_the_national_link_and_the_cascades(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    """A national session on two 6-port MCUs: the upstream link and one cascade, planned."""
    data = copy.deepcopy(demo_profile_data)
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny-mcu.yaml").write_text(TINY, encoding="utf-8")
    host = data["points"][0]["mcu"]
    host["model"] = "tiny-mcu"
    second = copy.deepcopy(host) | {"id": "mcu-2", "name": "MCU Kinh Bắc", "host": "127.0.0.2"}
    second["conference"] = {"name": "TCD-2", "numeric_id": "8200"}
    data["mcus"] = [second]
    data["upstream"] = UPSTREAM
    data["sessions"]["rules"] = []  # only the added sessions below are next
    loaded = load_profile(write_profile(data))
    profile = loaded.profile
    now = dt.datetime.now(dt.UTC)
    soon = (now + dt.timedelta(days=2)).astimezone(dt.timezone(dt.timedelta(hours=7)))
    national = AddedSession("tq", "TQ", soon.date(), dt.time(9), 3600, national=True)
    cal = Calendar(profile.sessions, profile.site.timezone, [national])

    state = next_session(loaded, cal, now)
    assert state is not None and state.session_id is not None
    assert state.session_id.startswith("tq@") and state.national is True
    assert state.links == (  # as the bring-up lists them: cascades, then the national link
        SessionLink(cascade_name("mcu-2"), "cascade", "MCU Kinh Bắc", mcu="mcu-2"),
        SessionLink(UPSTREAM_PARTICIPANT, "upstream", UPSTREAM["name"]),
    )
    assert all(link.phase is LinkPhase.PLANNED for link in state.links)

    # the same session not national: no upstream link; a roster that fits the host: no cascade
    local = AddedSession("dp", "ĐP", soon.date(), dt.time(9), 3600, ("trung-tam",))
    state = next_session(loaded, Calendar(profile.sessions, profile.site.timezone, [local]), now)
    assert state is not None and state.national is False and state.links == ()
