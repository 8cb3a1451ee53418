"""The session record (biên bản): written by `demo --once` and by the daemon's teardown,
read in headless Chromium and from its PDF, verified against the audit chain and the recording.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

from daemon_support import run_cli
from integration.conftest import fast
from pypdf import PdfReader
from test_mqtt_panel import _page_text, chromium  # noqa: F401 — the fixture is used by name

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import DeviceBehaviour, load_scenario
from mcu_control.audit import AuditLog
from mcu_control.drill import Drill
from mcu_control.drillstore import DrillStore
from mcu_control.record_render import read_facts, render_html
from mcu_control.runtime import OrchestratorActions, SiteHolder
from mcu_control.session_record import prune, recording_files
from mcu_control.state import PointPhase, StateStore
from mcu_control.supervisor import CallSupervisor
from profiles import load_profile
from scheduler.calendar import Occurrence

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MCU_CONTROL_DEMO_SECRET", "rig-secret-2026")


async def _cli(*args: str, state: Path, timeout: float = 120) -> tuple[int, str, str]:
    return await run_cli(*args, state=state, timeout=timeout)


def _profile(tmp_path: Path) -> Path:
    """The demo on free ports, test timings; mixers get 3 s (a loaded CI box connects slowly)."""
    data = fast(remap_ports(demo_data()))
    for point in data["points"]:
        if point.get("mixer"):
            point["mixer"]["timeout_s"] = 3.0
    return write_profile(data, tmp_path)


def _flip(path: Path, offset: int) -> bytes:
    """Change one byte of a file; return the original bytes."""
    data = path.read_bytes()
    changed = bytearray(data)
    changed[offset] = (changed[offset] + 1) % 256 or 1
    path.write_bytes(bytes(changed))
    return data


async def test_demo_once_leaves_a_record_that_chromium_and_pdf_show_and_verify_checks(
    tmp_path: Path,
    chromium: str,  # noqa: F811 — the fixture imported from test_mqtt_panel
) -> None:
    profile = _profile(tmp_path)
    state = tmp_path / "state"
    code, _, err = await _cli("demo", "--once", "--profile", str(profile), state=state)
    assert code == 0, err[-2000:]
    [html] = sorted((state / "records").glob("*.html"))
    pdf = html.with_suffix(".pdf")
    assert pdf.is_file()
    [recording] = sorted((state / "recordings").glob("*.ts"))
    sha = hashlib.sha256(recording.read_bytes()).hexdigest()
    facts = read_facts(html.read_text(encoding="utf-8"))
    assert [f["sha256"] for f in recording_files(facts)] == [sha]

    text = await _page_text(chromium, html.as_uri(), lambda t: "SHA-256" in t, tmp_path / "c")
    for needle in (
        "BIÊN BẢN BUỔI TIẾP CÔNG DÂN TRỰC TUYẾN",  # text-transform: uppercase
        "Kiểm thử của phiên trình diễn",
        "Huyện Lương Tài",
        "9/9 điểm cầu kết nối",
        "Có ghi hình",
        recording.name,
        sha,
        facts["audit"]["head_hash"],
    ):
        assert needle in text, needle

    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    for needle in ("Kiểm thử của phiên trình diễn", "9/9 điểm cầu kết nối", recording.name, sha):
        assert needle in pdf_text, needle

    # verify: the HTML and the PDF are intact
    for record in (html, pdf):
        code, out, err = await _cli("report", "verify", str(record), "--json", state=state)
        assert code == 0, out + err
        assert json.loads(out)["ok"] is True

    # one byte of the recording
    original = _flip(recording, recording.stat().st_size // 2)
    code, out, _ = await _cli("report", "verify", str(html), "--json", state=state)
    recording.write_bytes(original)
    assert code == 2
    assert [c["check"] for c in json.loads(out)["checks"] if c["ok"] is False] == [
        f"recording {recording.name}"
    ]

    # one byte of a quoted audit entry inside the record (its embedded copy)
    doc = html.read_text(encoding="utf-8")
    quoted = f'"sha256": "{sha}"'
    assert quoted in doc
    forged = tmp_path / "forged.html"
    forged.write_text(doc.replace(quoted, f'"sha256": "{"0" if sha[0] != "0" else "1"}{sha[1:]}"'))
    code, out, _ = await _cli("report", "verify", str(forged), "--json", state=state)
    assert code == 2
    failed = {c["check"] for c in json.loads(out)["checks"] if c["ok"] is False}
    assert {"document", "quoted audit entries"} <= failed

    # one byte of the visible text only
    edited = tmp_path / "edited.html"
    edited.write_text(doc.replace("Huyện Lương Tài", "Huyện Lương Tai", 1))
    code, out, _ = await _cli("report", "verify", str(edited), "--json", state=state)
    assert code == 2
    assert {c["check"] for c in json.loads(out)["checks"] if c["ok"] is False} == {"document"}

    # one byte of a quoted entry in the audit log itself
    audit = state / "audit.jsonl"
    line = next(
        i
        for i, raw in enumerate(audit.read_bytes().splitlines(keepends=True))
        if b'"recording.file"' in raw
    )
    offset = sum(len(r) for r in audit.read_bytes().splitlines(keepends=True)[:line])
    offset += audit.read_bytes()[offset:].index(b"recording.file")
    _flip(audit, offset)
    code, out, _ = await _cli("report", "verify", str(html), "--json", state=state)
    assert code == 2
    assert "audit chain" in {c["check"] for c in json.loads(out)["checks"] if c["ok"] is False}

    # not a record at all
    code, _, err = await _cli("report", "verify", str(profile), state=state)
    assert code == 3, err

    code, out, _ = await _cli("report", "session", "--list", "--json", state=state)
    assert code == 0
    assert [r["session_id"] for r in json.loads(out)] == [facts["session"]["id"]]


async def test_report_session_writes_a_record_on_demand_from_the_audit_log(
    tmp_path: Path,
) -> None:
    profile = _profile(tmp_path)
    state = tmp_path / "state"
    code, _, err = await _cli(
        "demo", "--once", "--no-drill", "--profile", str(profile), state=state
    )
    assert code in (0, 1, 2), err[-2000:]  # the bring-up's verdict; the record is written anyway
    [stored] = sorted((state / "records").glob("*.html"))
    before = stored.read_bytes()
    stored.unlink()
    stored.with_suffix(".pdf").unlink()
    html, pdf = tmp_path / "copy.html", tmp_path / "copy.pdf"
    code, out, err = await _cli(
        "report", "session", "--last", "--html", str(html), "--pdf", str(pdf), "--json", state=state
    )
    assert code == 0, err
    assert json.loads(out)["stored_html"] == str(stored)
    assert stored.read_bytes() == html.read_bytes() == before  # same facts, same document
    assert "Không có kết quả kiểm thử" in html.read_text(encoding="utf-8")  # --no-drill
    for record in (html, pdf):
        code, out, err = await _cli("report", "verify", str(record), state=state)
        assert code == 0, out + err
    code, _, err = await _cli("report", "session", "no-such-session", state=state)
    assert code == 3, err


async def test_daemon_session_with_a_stalled_recording_says_so_in_the_record(
    tmp_path: Path,
) -> None:
    data = fast(remap_ports(demo_data()))
    storage = data["points"][0]["recorder"]["storage"]
    storage.update({"window_min": 0.03, "check_interval_s": 0.1})  # 1.8 s
    loaded = load_profile(write_profile(data, tmp_path))
    normal = load_scenario("normal")
    scenario = normal.model_copy(
        update={
            "defaults": normal.defaults.model_copy(update={"dial_latency_s": 0.15}),
            "devices": {"trung-tam.recorder": DeviceBehaviour(recording_stall_after_s=0.4)},
        }
    )
    rig = Rig(loaded, scenario, state_dir=tmp_path)
    await rig.start()
    store = StateStore()
    store.seed(loaded.profile)
    holder = SiteHolder(loaded, store, AuditLog(tmp_path / "audit.jsonl"))
    actions = OrchestratorActions(holder, tmp_path)
    start = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=7)))
    occ = Occurrence("phien", "Phiên tiếp công dân thử", start, start + dt.timedelta(hours=1))
    queue = store.subscribe()
    calls = CallSupervisor(holder.site, interval_s=0.2, timeout_s=3.0)
    try:
        # a drill run by hand before the session is not one of the session's drills
        manual = await Drill(holder.site, label="tay", quick=True).run()
        DrillStore(tmp_path / "drills.sqlite").save(manual)  # where the orchestrator keeps drills
        await actions.drill(occ, label="T-2h")
        await actions.bringup(occ)
        calls.start()  # the daemon's view of the calls: it sees the recorder's call still up
        window = 0.03 * 60
        async with asyncio.timeout(0.4 + window + 3.0):
            while True:
                change = await queue.get()
                if change.kind == "event" and change.key == "recording-stalled":
                    break
        # a component point drops during the session
        conf = loaded.profile.mcu.conference.name
        rig.mcu.state.disconnect(rig.mcu.state.participant(conf, "tien-du"))
        async with asyncio.timeout(5.0):
            while store.points["tien-du"].phase is not PointPhase.OFFLINE:
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a few call supervisor rounds with the recorder's call up
        assert store.points["trung-tam"].recording is False  # the panel: "Không ghi hình"
        await calls.stop()
        await actions.teardown(occ)
    finally:
        await calls.stop()
        await actions.records.stop()
        await holder.site.close()
        await rig.stop()
    assert actions.records.last is not None
    html, pdf = actions.records.last
    assert pdf is not None and pdf.is_file()
    doc = html.read_text(encoding="utf-8")
    facts = read_facts(doc)
    assert doc == render_html(facts)
    assert "Không ghi hình" in doc and "không tăng kích thước" in doc
    assert "Kiểm thử T−2 giờ" in doc and "Thiếu lần kiểm thử: T−1 ngày" in doc
    assert [d["label"] for d in facts["drills"]] == ["T-2h"]
    assert facts["session"]["id"] == occ.key
    assert "<td>mất kết nối</td><td>Huyện Tiên Du</td>" in doc
    incidents = [e for e in facts["audit"]["entries"] if e["action"] == "session.incident"]
    assert [(e["target"], e["data"]["kind"]) for e in incidents][:1] == [("tien-du", "offline")]
    kinds = [
        e["data"]["kind"] for e in facts["audit"]["entries"] if e["action"] == "recording.alert"
    ]
    assert kinds == ["recording-stalled"]
    [f] = recording_files(facts)
    assert f["sha256"] == hashlib.sha256(Path(f["path"]).read_bytes()).hexdigest()


def _record(directory: Path, name: str, closed: dt.datetime, recordings: list[Path]) -> Path:
    """A minimal record file closed at `closed` that fingerprints `recordings`."""
    entry: dict[str, Any] = {
        "seq": 2,
        "action": "recording.file",
        "data": {
            "files": [{"name": r.name, "path": str(r), "sha256": "0" * 64} for r in recordings]
        },
    }
    facts = {
        "format": "mcu-control/session-record",
        "v": 1,
        "session": {"id": name, "title": name, "closed_at": closed.isoformat(), "points": []},
        "drills": [],
        "audit": {
            "file": "audit.jsonl",
            "head_seq": 3,
            "head_hash": "f" * 64,
            "entries": [{"seq": 1, "action": "session.open", "data": {}}, entry],
        },
    }
    path = directory / f"{name}.html"
    path.write_text(render_html(facts), encoding="utf-8")
    return path


def test_prune_never_deletes_a_recording_a_young_record_cites(tmp_path: Path) -> None:
    now = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    records = tmp_path / "records"
    records.mkdir()
    shared = tmp_path / "shared.ts"  # a recording cited by an old and a young record
    own = tmp_path / "own.ts"
    young_rec = tmp_path / "young.ts"
    for f in (shared, own, young_rec):
        f.write_bytes(b"\x47")
    old = _record(records, "old", now - dt.timedelta(days=2000), [own])
    old_shared = _record(records, "old-shared", now - dt.timedelta(days=2000), [shared])
    young = _record(records, "young", now - dt.timedelta(days=30), [shared, young_rec])
    retention = dt.timedelta(days=1825)

    dry = prune(
        records, older_than=dt.timedelta(days=1), retention=retention, now=now, dry_run=True
    )
    assert set(dry.deleted) == {str(old), str(own), str(old_shared)}
    assert old.exists() and own.exists()

    result = prune(records, older_than=dt.timedelta(days=1), retention=retention, now=now)
    assert set(result.deleted) == {str(old), str(own), str(old_shared)}
    assert not old.exists() and not own.exists() and not old_shared.exists()
    assert shared.exists() and young.exists() and young_rec.exists()
    assert {k["path"] for k in result.kept} == {str(shared), str(young)}
    assert all("retention" in k["why"] for k in result.kept)

    # --older-than shorter than the retention period deletes nothing young
    again = prune(records, older_than=dt.timedelta(0), retention=retention, now=now)
    assert again.deleted == []
    assert young.exists() and shared.exists()
