"""The session record (biên bản): what happened in one session, proven by the audit chain.

`SessionRecords` is the daemon's (and the demo's) hook around a session: `opening()` before
the bring-up, `brought_up()` after it (starts the recording check and notes incidents),
`closed()` after the teardown (fingerprints the recording, closes the session in the audit
log and writes the record). The record's facts come from the audit log — the entries it
quotes are copied verbatim — and from the drill store; `verify()` checks a record against
the chain and the recording files.

Records live in `<state dir>/records/<session>.html` and `.pdf`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devices.errors import ConfigError
from mcu_control.audit import AuditLog
from mcu_control.drillstore import DrillStore
from mcu_control.recording import RecordingMonitor, file_sha256
from mcu_control.state import Change, PointPhase

if TYPE_CHECKING:
    from mcu_control.results import BringupReport
    from mcu_control.site import Site

log = logging.getLogger("mcu_control.session_record")

FORMAT = "mcu-control/session-record"
VERSION = 1
DRILL_LOOKBACK = dt.timedelta(days=2)  # T−1 d drills of a session that starts on a Monday, …
RECORDS = "records"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

# audit actions the record reads section by section; anything else in the session's window
# is listed as an operator action or other event
_SECTIONED = frozenset(
    {
        "session.open",
        "session.close",
        "session.bringup-points",
        "session.incident",
        "session.bringup",
        "session.teardown",
        "session.drill",
        "bringup.start",
        "bringup.escalate",
        "bringup.point_failed",
        "bringup.finish",
        "teardown.start",
        "teardown.finish",
        "recording.start",
        "recording.failed",
        "recording.appeared",
        "recording.alert",
        "recording.resumed",
        "recording.file",
    }
)
_HOUSEKEEPING = ("daemon.",)


def record_name(session_id: str) -> str:
    """A file-name-safe form of a session id (`bi-thu@2026-12-10T08:00:00+07:00` → …)."""
    return _UNSAFE.sub("_", session_id).strip("_.") or "session"


def records_dir(state_dir: Path) -> Path:
    return state_dir / RECORDS


@dataclass
class _Open:
    session_id: str
    opened_seq: int
    monitor: RecordingMonitor | None = None
    incidents: asyncio.Task[None] | None = None
    phases: dict[str, PointPhase] = field(default_factory=dict)


class SessionRecords:
    """Hooks around one session at a time; `closed()` writes its record (HTML and PDF).

    Also a daemon component: stopping it stops the recording check and the incident log of
    an open session (a later `closed()` picks the session up again from the audit log).
    """

    name = "session-records"
    active_only = True

    def __init__(
        self,
        site: Callable[[], Site],
        state_dir: Path,
        *,
        audit: AuditLog,
        pdf: bool = True,
        actor: str = "daemon",
    ) -> None:
        self.site = site
        self.actor = actor
        self.state_dir = state_dir
        self.audit = audit
        self.pdf = pdf
        self.drills = DrillStore(state_dir / "drills.sqlite")
        self._open: _Open | None = None
        self.last: tuple[Path, Path | None] | None = None  # the record written by closed()

    def site_zone(self) -> dt.tzinfo:
        """The site's time zone (sessions are named in site time)."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.site().profile.site.timezone)

    async def start(self) -> None:
        """Nothing to start: the work begins with a session's bring-up."""

    async def stop(self) -> None:
        """Stop watching; the session stays open in the audit log until `closed()`."""
        state, self._open = self._open, None
        if state is not None:
            await self._stop_watching(state)
            if state.monitor is not None:
                await state.monitor.cancel()

    async def opening(
        self,
        session_id: str,
        title: str,
        starts_at: dt.datetime | None = None,
        ends_at: dt.datetime | None = None,
    ) -> None:
        """Mark the start of the session's window in the audit log (before the bring-up)."""
        try:
            await self._stop_watching()
            site = self.site()
            profile = site.profile
            rec = self._append(
                "session.open",
                target=session_id,
                title=title,
                starts_at=starts_at.isoformat() if starts_at else None,
                ends_at=ends_at.isoformat() if ends_at else None,
                site=profile.site.id,
                site_name=profile.site.name,
                timezone=profile.site.timezone,
                conference=profile.mcu.conference.name,
                points=[{"id": p.id, "name": p.name, "role": p.role} for p in profile.points],
            )
            self._open = _Open(session_id, int(rec["seq"]))
        except Exception:
            log.exception("cannot open the session record of %s", session_id)

    async def brought_up(self, report: BringupReport) -> None:
        """Note each point's bring-up; start the recording check and the incident log."""
        try:
            site = self.site()
            started = report.started_at
            self._append(
                "session.bringup-points",
                target=self._open.session_id if self._open else None,
                points=[
                    {
                        "point": p.point,
                        "name": p.name,
                        "connected": p.connected,
                        "adopted": p.adopted,
                        "attempts": p.attempts,
                        "address": p.address,
                        "reason": p.reason,
                        "connected_at": (started + dt.timedelta(seconds=p.connect_s)).isoformat()
                        if p.connected
                        else None,
                        "verdict": p.verdict.value,
                        "problems": [
                            f"{c.check}: {c.reason}" for c in p.steps if c.verdict.value != "pass"
                        ],
                    }
                    for p in report.points
                ],
            )
            if self._open is None:
                return
            self._open.phases = {k: v.phase for k, v in site.store.points.items()}
            self._open.incidents = asyncio.create_task(
                self._watch(site, site.store.subscribe()), name="session-incidents"
            )
            rec = site.profile.central.recorder
            if rec is not None and rec.storage is not None:
                monitor = RecordingMonitor(
                    rec.storage,
                    rec.storage.resolved(self.state_dir),
                    site.store,
                    self._record_fn(),
                    site.profile.central.id,
                    f"{site.profile.central.id}.{rec.id}",
                )
                await monitor.start()
                self._open.monitor = monitor
        except Exception:
            log.exception("cannot start the recording check / incident log")

    async def wait_recording(self, timeout_s: float) -> bool:
        """Until the recording check has seen a file grow (the demo's --once waits on this)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        monitor = self._open.monitor if self._open else None
        while monitor is not None and loop.time() < deadline:
            await monitor.check()
            if monitor.files and monitor.files[-1].grew:
                return True
            await asyncio.sleep(min(0.2, monitor.storage.interval_s))
        return False

    async def closed(self) -> Path | None:
        """After the teardown: fingerprint the recording, close the window, write the record."""
        state = self._open or await asyncio.to_thread(self._reopen)
        if state is None:
            log.warning("teardown without an open session: no session record written")
            return None
        self._open = None
        try:
            await self._stop_watching(state)
            if state.monitor is not None:
                await state.monitor.finish()
            close = self._append(
                "session.close", target=state.session_id, opened_seq=state.opened_seq
            )
            facts = await asyncio.to_thread(
                collect, self.audit, self.drills, state.session_id, close_seq=int(close["seq"])
            )
            html, pdf = await asyncio.to_thread(
                write_record, facts, records_dir(self.state_dir), pdf=self.pdf
            )
            note_written(self.audit, state.session_id, html, pdf, actor=self.actor)
            self.last = (html, pdf)
            log.info("session record written: %s", html)
            return html
        except Exception:
            log.exception("cannot write the session record of %s", state.session_id)
            return None

    # ------------------------------------------------------------------ internals

    def _reopen(self) -> _Open | None:
        """After a restart between bring-up and teardown: the session still open in the log."""
        records = self.audit.records()
        opened = next((r for r in reversed(records) if r.get("action") == "session.open"), None)
        if opened is None or any(
            r.get("action") == "session.close" and int(r["seq"]) > int(opened["seq"])
            for r in records
        ):
            return None
        state = _Open(str(opened["target"]), int(opened["seq"]))
        site = self.site()
        rec = site.profile.central.recorder
        if rec is not None and rec.storage is not None:
            state.monitor = RecordingMonitor(
                rec.storage,
                rec.storage.resolved(self.state_dir),
                site.store,
                self._record_fn(),
                site.profile.central.id,
                f"{site.profile.central.id}.{rec.id}",
                since=dt.datetime.fromisoformat(opened["at"]).timestamp(),
            )
        return state

    def _append(self, action: str, *, target: str | None, **data: Any) -> dict[str, Any]:
        return self.audit.append(action, actor=self.actor, target=target, **data)

    def _record_fn(self) -> Callable[..., None]:
        def record(action: str, target: str | None = None, **data: Any) -> None:
            try:
                self._append(action, target=target, **data)
            except OSError as exc:
                log.error("cannot write the audit log: %s", exc)  # noqa: TRY400

        return record

    async def _stop_watching(self, state: _Open | None = None) -> None:
        state = state or self._open
        if state is None or state.incidents is None:
            return
        state.incidents.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.incidents
        state.incidents = None

    async def _watch(self, site: Site, queue: asyncio.Queue[Change]) -> None:
        """Drops, degraded points and device failures during the session, into the audit log."""
        try:
            while True:
                change = await queue.get()
                self._incident(change)
        finally:
            site.store.unsubscribe(queue)

    def _incident(self, change: Change) -> None:
        state = self._open
        if state is None:
            return
        if change.kind == "point":
            p = change.payload
            phase = PointPhase(p["phase"])
            before = state.phases.get(change.key)
            state.phases[change.key] = phase
            bad = (PointPhase.OFFLINE, PointPhase.DEGRADED)
            if phase is before or (phase not in bad and before not in bad):
                return
            kind = "recovered" if phase not in bad else phase.value
            self._record_fn()(
                "session.incident",
                target=change.key,
                kind=kind,
                name=p.get("name"),
                phase=phase.value,
                before=before.value if before else None,
                reason=p.get("reason", ""),
                packet_loss_pct=p.get("packet_loss_pct"),
            )
        elif change.kind == "event" and change.key in ("device-down", "device-recovered"):
            p = change.payload
            self._record_fn()(
                "session.incident",
                target=str(p.get("device", "")),
                kind=change.key,
                reason=str(p.get("reason", "")),
            )


# ---------------------------------------------------------------------- facts


def collect(
    audit: AuditLog, drills: DrillStore, session_id: str, *, close_seq: int | None = None
) -> dict[str, Any]:
    """The record's facts: the session's window of the audit log plus its drills."""
    records = audit.records()
    by_seq = {int(r["seq"]): r for r in records}
    opens = [
        r
        for r in records
        if r.get("action") == "session.open"
        and r.get("target") == session_id
        and (close_seq is None or int(r["seq"]) < close_seq)
    ]
    if not opens:
        raise LookupError(f"no session {session_id!r} in the audit log {audit.path}")
    opened = opens[-1]
    start = int(opened["seq"])
    close = (
        by_seq.get(close_seq)
        if close_seq is not None
        else next(
            (
                r
                for r in records
                if r.get("action") == "session.close"
                and r.get("target") == session_id
                and int(r["seq"]) > start
            ),
            None,
        )
    )
    if close is None:
        raise LookupError(f"session {session_id!r} is not closed yet (no teardown recorded)")
    end = int(close["seq"])
    window = [r for r in records if start <= int(r["seq"]) <= end]
    data = opened["data"]
    opened_at = dt.datetime.fromisoformat(opened["at"])
    starts = dt.datetime.fromisoformat(data["starts_at"]) if data.get("starts_at") else opened_at
    scheduled = _scheduled_drills(records, session_id, before=start)
    chosen = _drills(drills, since=starts - DRILL_LOOKBACK, until=opened_at, only=scheduled)
    drill_entries = {
        str(r["data"].get("id")): r
        for r in records
        if r.get("action") == "drill.finish" and int(r["seq"]) < start
    }
    quoted_drills = [drill_entries[d["id"]] for d in chosen if d["id"] in drill_entries]
    for d in chosen:
        entry = drill_entries.get(d["id"])
        d["audit_seq"] = int(entry["seq"]) if entry else None
    return {
        "format": FORMAT,
        "v": VERSION,
        "session": {
            "id": session_id,
            "title": data.get("title"),
            "starts_at": data.get("starts_at"),
            "ends_at": data.get("ends_at"),
            "site": data.get("site"),
            "site_name": data.get("site_name"),
            "timezone": data.get("timezone"),
            "conference": data.get("conference"),
            "points": data.get("points", []),
            "opened_at": opened["at"],
            "closed_at": close["at"],
        },
        "drills": chosen,
        "audit": {
            "file": str(audit.path),
            "head_seq": end,
            "head_hash": close["hash"],
            "entries": sorted([*quoted_drills, *window], key=lambda r: int(r["seq"])),
        },
    }


def _scheduled_drills(records: list[dict[str, Any]], session_id: str, *, before: int) -> set[str]:
    """Ids of the drills the scheduler ran for this session (`session.drill`, then its finish)."""
    ids: set[str] = set()
    for i, r in enumerate(records):
        if int(r["seq"]) >= before:
            break
        if r.get("action") != "session.drill" or r.get("target") != session_id:
            continue
        label = r["data"].get("label")
        finish = next(
            (
                f
                for f in records[i + 1 :]
                if f.get("action") == "drill.finish" and f["data"].get("label") == label
            ),
            None,
        )
        if finish is not None and int(finish["seq"]) < before:
            ids.add(str(finish["data"].get("id")))
    return ids


def _drills(
    store: DrillStore, *, since: dt.datetime, until: dt.datetime, only: set[str]
) -> list[dict[str, Any]]:
    """The session's drills: those the scheduler ran for it (`only`), else the latest of each
    label run in [since, until] (a drill started by hand, or the demo's)."""
    latest: dict[str, dict[str, Any]] = {}
    for row in store.list(limit=200):
        at = dt.datetime.fromisoformat(row["started_at"])
        if only:
            if row["id"] not in only or row["label"] in latest:
                continue
        elif not since <= at <= until or row["label"] in latest:
            continue
        report = store.get(row["id"])
        if report is None:
            continue
        latest[row["label"]] = {
            "id": report.id,
            "label": report.label,
            "quick": report.quick,
            "started_at": report.started_at.isoformat(),
            "verdict": report.verdict.value,
            "points": [
                {
                    "point": p.point,
                    "name": p.name,
                    "verdict": p.verdict.value,
                    "reasons": [
                        f"{c.check}: {c.reason}" for c in p.checks if c.verdict.value != "pass"
                    ],
                }
                for p in report.points
            ],
        }
    return sorted(latest.values(), key=lambda d: str(d["started_at"]))


def entries(facts: dict[str, Any], action: str | None = None) -> list[dict[str, Any]]:
    """The quoted audit entries (of one action)."""
    quoted: list[dict[str, Any]] = facts["audit"]["entries"]
    return [e for e in quoted if action is None or e.get("action") == action]


def other_entries(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Operator actions and other events in the session's window."""
    opened = int(entries(facts, "session.open")[-1]["seq"])
    return [
        e
        for e in entries(facts)
        if int(e["seq"]) > opened
        and e.get("action") not in _SECTIONED
        and e.get("action") != "drill.finish"
        and not str(e.get("action", "")).startswith(_HOUSEKEEPING)
    ]


# ---------------------------------------------------------------------- files


def write_record(
    facts: dict[str, Any], directory: Path, *, pdf: bool = True
) -> tuple[Path, Path | None]:
    """Write `<session>.html` (and `.pdf` when WeasyPrint is usable); return their paths."""
    from mcu_control.record_render import render_html, render_pdf

    directory.mkdir(parents=True, exist_ok=True)
    name = record_name(facts["session"]["id"])
    html_path = directory / f"{name}.html"
    html = render_html(facts)
    _write_atomic(html_path, html.encode("utf-8"))
    if not pdf:
        return html_path, None
    pdf_path = directory / f"{name}.pdf"
    try:
        _write_atomic(pdf_path, render_pdf(html, facts))
    except RecordPdfUnavailableError as exc:
        log.error("session record PDF not written: %s", exc)  # noqa: TRY400
        return html_path, None
    return html_path, pdf_path


def note_written(
    audit: AuditLog, session_id: str, html: Path, pdf: Path | None, *, actor: str
) -> None:
    """Audit the written record's files by SHA-256 (`verify` finds the document by it)."""
    audit.append(
        "session.record",
        actor=actor,
        target=session_id,
        html=str(html),
        html_sha256=file_sha256(html),
        pdf=str(pdf) if pdf else None,
        pdf_sha256=file_sha256(pdf) if pdf else None,
    )


class RecordPdfUnavailableError(ConfigError):
    """WeasyPrint (or its system libraries) cannot be loaded; the hint says what to install."""


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@dataclass(frozen=True)
class RecordInfo:
    session_id: str
    title: str
    starts_at: str | None
    closed_at: str
    html: Path
    pdf: Path | None
    recordings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "title": self.title,
            "starts_at": self.starts_at,
            "closed_at": self.closed_at,
            "html": str(self.html),
            "pdf": str(self.pdf) if self.pdf else None,
            "recordings": self.recordings,
        }


def list_records(directory: Path) -> list[RecordInfo]:
    """The records in `directory`, newest close first (unreadable files are skipped)."""
    from mcu_control.record_render import read_facts

    out = []
    for html in directory.glob("*.html") if directory.is_dir() else []:
        try:
            facts = read_facts(html.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("not a session record: %s", html)
            continue
        pdf = html.with_suffix(".pdf")
        s = facts["session"]
        out.append(
            RecordInfo(
                s["id"],
                s.get("title") or "",
                s.get("starts_at"),
                s["closed_at"],
                html,
                pdf if pdf.exists() else None,
                [f["path"] for f in recording_files(facts) if f.get("path")],
            )
        )
    return sorted(out, key=lambda r: r.closed_at, reverse=True)


def recording_files(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The recording files the record fingerprints."""
    found = entries(facts, "recording.file")
    if not found:
        return []
    files: list[dict[str, Any]] = found[-1]["data"].get("files") or []
    return files


# ---------------------------------------------------------------------- verify


@dataclass
class Verification:
    ok: bool = True
    checks: list[dict[str, Any]] = field(default_factory=list)

    def add(self, what: str, ok: bool | None, detail: str) -> None:
        """ok None: not checked (e.g. the recording is not where the record says)."""
        self.checks.append({"check": what, "ok": ok, "detail": detail})
        if ok is False:
            self.ok = False

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": self.checks}


def verify(
    facts: dict[str, Any], audit: AuditLog, *, document: bytes | None = None
) -> Verification:
    """Check a record against the audit chain and the recording files.

    `document`: the record file's bytes. It passes if the audit log holds its SHA-256 (it is
    the file the daemon wrote), or if rendering its embedded facts again gives the same bytes
    (a copy written on demand); otherwise its visible text was edited.
    """
    import hashlib

    from mcu_control.record_render import render_html

    result = Verification()
    if document is not None:
        digest = hashlib.sha256(document).hexdigest()
        noted = [
            r
            for r in (audit.records() if audit.path.exists() else [])
            if r.get("action") == "session.record"
            and digest in (r["data"].get("html_sha256"), r["data"].get("pdf_sha256"))
        ]
        if noted:
            result.add(
                "document",
                True,
                f"SHA-256 {digest[:16]}… is in the audit log (record {noted[-1]['seq']})",
            )
        elif document.startswith(b"%PDF"):
            result.add("document", None, "a PDF not noted in the audit log: facts checked only")
        else:
            same = render_html(facts).encode("utf-8") == document
            result.add(
                "document",
                same,
                "its text matches the facts embedded in it"
                if same
                else "its text was changed after it was written (it matches neither a written "
                "record's SHA-256 nor the facts embedded in it)",
            )
    chain = audit.verify()
    result.add(
        "audit chain",
        chain.ok,
        f"{chain.records} records intact in {audit.path}"
        if chain.ok
        else f"{audit.path} line {chain.first_bad_line}: {chain.reason}",
    )
    log_by_seq = {int(r["seq"]): r for r in audit.records()} if audit.path.exists() else {}
    quoted = entries(facts)
    bad = [int(e.get("seq", -1)) for e in quoted if log_by_seq.get(int(e.get("seq", -1))) != e]
    result.add(
        "quoted audit entries",
        not bad,
        f"all {len(quoted)} quoted entries are in the chain, byte for byte"
        if not bad
        else f"entries {', '.join(map(str, bad[:10]))} differ from the audit log (or are absent)",
    )
    head_seq, head = int(facts["audit"]["head_seq"]), facts["audit"]["head_hash"]
    in_log = log_by_seq.get(head_seq, {}).get("hash")
    result.add(
        "head hash at the close",
        in_log == head,
        f"record {head_seq} has hash {head[:16]}…"
        if in_log == head
        else f"record {head_seq} of the audit log does not carry hash {head[:16]}…",
    )
    for f in recording_files(facts):
        if not f.get("sha256"):
            continue
        path = Path(f["path"])
        if not path.is_file():
            result.add(f"recording {f['name']}", None, f"not present at {path}: not checked")
            continue
        digest = file_sha256(path)
        result.add(
            f"recording {f['name']}",
            digest == f["sha256"],
            f"SHA-256 {digest[:16]}… matches"
            if digest == f["sha256"]
            else f"SHA-256 of {path} is {digest[:16]}…, the record says {f['sha256'][:16]}…",
        )
    return result


# ---------------------------------------------------------------------- retention


@dataclass
class PruneResult:
    deleted: list[str] = field(default_factory=list)
    kept: list[dict[str, str]] = field(default_factory=list)  # path + why

    def to_dict(self) -> dict[str, Any]:
        return {"deleted": self.deleted, "kept": self.kept}


def prune(
    directory: Path,
    *,
    older_than: dt.timedelta,
    retention: dt.timedelta,
    now: dt.datetime,
    dry_run: bool = False,
) -> PruneResult:
    """Delete records (and their recordings) closed more than `older_than` ago.

    A recording is never deleted while any record that fingerprints it is younger than
    `retention`, whatever `older_than` says; records younger than `retention` are kept too.
    """
    result = PruneResult()
    records = list_records(directory)
    protected: set[str] = set()
    for r in records:
        if now - dt.datetime.fromisoformat(r.closed_at) < retention:
            protected.update(r.recordings)
    for r in records:
        age = now - dt.datetime.fromisoformat(r.closed_at)
        if age < older_than:
            continue
        if age < retention:
            result.kept.append(
                {"path": str(r.html), "why": f"younger than the retention period ({retention})"}
            )
            continue
        for rec in r.recordings:
            if rec in protected:
                result.kept.append(
                    {"path": rec, "why": "a record younger than the retention period cites it"}
                )
                continue
            _delete(Path(rec), result, dry_run)
        for path in _existing(r.html, r.pdf):
            _delete(path, result, dry_run)
    return result


def _existing(*paths: Path | None) -> Iterable[Path]:
    return [p for p in paths if p is not None and p.exists()]


def _delete(path: Path, result: PruneResult, dry_run: bool) -> None:
    if not path.exists():
        return
    if not dry_run:
        try:
            path.unlink()
        except OSError as exc:  # e.g. the recorder's share is mounted read-only
            result.kept.append({"path": str(path), "why": f"cannot delete: {exc.strerror}"})
            return
    result.deleted.append(str(path))


def parse_facts_json(text: str) -> dict[str, Any]:
    """Facts from JSON text; ValueError if they are not a session record's."""
    facts = json.loads(text)
    if not isinstance(facts, dict) or facts.get("format") != FORMAT:
        raise ValueError("not an mcu-control session record")
    return facts
