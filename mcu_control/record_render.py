"""The session record as one self-contained Vietnamese HTML document, and its PDF.

`render_html(facts)` depends on the facts only (no clock, no environment), so `report verify`
can render them again and tell whether the document's text was edited. The facts travel
inside the document in a `<script type="application/json" id="session-facts">` block, and
inside the PDF as an embedded file `session-facts.json` (PDF/A-3b, the archival profile
that allows attachments).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from mcu_control.session_record import (
    RecordPdfUnavailableError,
    entries,
    other_entries,
    parse_facts_json,
    recording_files,
)

FACTS_ID = "session-facts"
FACTS_FILE = "session-facts.json"
_FACTS_RE = re.compile(
    r'<script type="application/json" id="session-facts">(.*?)</script>', re.DOTALL
)

VERDICT_VI = {"pass": "ĐẠT", "warn": "CẢNH BÁO", "fail": "KHÔNG ĐẠT"}
COLOUR = {"pass": "#2e7d32", "warn": "#b26a00", "fail": "#c62828"}
LABEL_VI = {"T-1d": "T−1 ngày", "T-2h": "T−2 giờ", "demo": "của phiên trình diễn"}
INCIDENT_VI = {
    "offline": "mất kết nối",
    "degraded": "suy giảm chất lượng",
    "recovered": "đã phục hồi",
    "device-down": "thiết bị không phản hồi",
    "device-recovered": "thiết bị hoạt động lại",
    "recording-missing": "Không ghi hình — chưa có tệp ghi hình",
    "recording-stalled": "Không ghi hình — tệp ngừng tăng",
    "recording-storage-unreadable": "Không ghi hình — không đọc được thư mục lưu",
}

CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
  @bottom-center { content: "Trang " counter(page) " / " counter(pages); font-size: 8pt; color: #666; } }
body { font-family: "Noto Sans", "DejaVu Sans", "Segoe UI", Arial, sans-serif; font-size: 10pt;
  color: #1a1a1a; margin: 0 auto; max-width: 190mm; line-height: 1.35; }
header { text-align: center; margin-bottom: 8mm; }
header .org { font-weight: 700; text-transform: uppercase; }
h1 { font-size: 15pt; margin: 4mm 0 1mm; text-transform: uppercase; }
h2 { font-size: 11.5pt; margin: 6mm 0 2mm; border-bottom: 1px solid #999; padding-bottom: 1mm;
  break-after: avoid; }
h3 { font-size: 10.5pt; margin: 3mm 0 1mm; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm; }
th, td { border: 1px solid #aaa; padding: 1.2mm 1.8mm; text-align: left; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
tr { break-inside: avoid; }
table.kv td { border: none; padding: 0.6mm 3mm 0.6mm 0; }
table.kv td:first-child { color: #555; width: 42mm; }
.v { font-weight: 700; }
.mono { font-family: "DejaVu Sans Mono", "Noto Sans Mono", Consolas, monospace; font-size: 8.5pt;
  word-break: break-all; }
.alert { color: #c62828; font-weight: 700; }
.note { color: #555; font-size: 9pt; }
.sign { display: flex; justify-content: space-around; margin-top: 12mm; text-align: center; }
.sign div { width: 45%; } .sign .line { margin-top: 20mm; color: #777; }
"""


def render_html(facts: dict[str, Any]) -> str:
    """The record as HTML (inline CSS, no external resources, the facts embedded)."""
    s = facts["session"]
    tz = _tz(s.get("timezone"))
    title = s.get("title") or s["id"]
    body = "\n".join(
        [
            _header(s, title),
            _session(s, tz),
            _drills(facts, tz),
            _bringup(facts, tz),
            _incidents(facts, tz),
            _teardown(facts, tz),
            _recording(facts, tz),
            _chain(facts),
            _signatures(),
        ]
    )
    data = json.dumps(facts, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="generator" content="mcu-control">
<title>Biên bản — {escape(title)}</title>
<style>{CSS}</style>
</head><body>
{body}
<script type="application/json" id="{FACTS_ID}">{data}</script>
</body></html>
"""


def read_facts(document: str) -> dict[str, Any]:
    """The facts embedded in a record's HTML; ValueError if there are none."""
    m = _FACTS_RE.search(document)
    if m is None:
        raise ValueError("no embedded session facts (not a session record)")
    return parse_facts_json(m.group(1))


def render_pdf(html: str, facts: dict[str, Any]) -> bytes:
    """The PDF (PDF/A-3b) of the HTML, with the facts attached as `session-facts.json`."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: pango is missing
        raise RecordPdfUnavailableError(
            f"WeasyPrint cannot be loaded ({exc})",
            hint="install its system libraries (pango) with `scripts/system-deps.sh weasyprint` "
            "and the Python package `weasyprint`",
        ) from None

    def no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"the session record loads nothing from outside ({url})")

    attachment = weasyprint.Attachment(
        string=json.dumps(facts, ensure_ascii=False, sort_keys=True, indent=1),
        name=FACTS_FILE,
        description="mcu-control session record facts (machine-readable)",
        relationship="Data",
    )
    doc = weasyprint.HTML(string=html, url_fetcher=no_fetch)
    pdf: bytes = doc.write_pdf(attachments=[attachment], pdf_variant="pdf/a-3b")
    return pdf


def read_pdf_facts(data: bytes) -> dict[str, Any]:
    """The facts attached to a record's PDF; ValueError if there are none."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        attached = PdfReader(io.BytesIO(data)).attachments
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a readable PDF: {exc}") from None
    found = attached.get(FACTS_FILE)
    if not found:
        raise ValueError(f"the PDF carries no {FACTS_FILE} (not a session record)")
    return parse_facts_json(found[0].decode("utf-8"))


# ---------------------------------------------------------------------- sections


def _header(s: dict[str, Any], title: str) -> str:
    return f"""<header>
<div class="org">{escape(s.get("site_name") or s.get("site") or "")}</div>
<div>Hệ thống điều khiển hội nghị trực tuyến tiếp công dân</div>
<h1>Biên bản buổi tiếp công dân trực tuyến</h1>
<div><b>{escape(title)}</b></div>
</header>"""


def _session(s: dict[str, Any], tz: ZoneInfo) -> str:
    roster = "".join(
        f"<tr><td>{i}</td><td>{escape(p.get('name', ''))}</td><td>{escape(p.get('id', ''))}</td>"
        f"<td>{'Điểm cầu trung tâm' if p.get('role') == 'central' else 'Điểm cầu thành phần'}</td></tr>"
        for i, p in enumerate(s.get("points", []), start=1)
    )
    when = _t(s.get("starts_at"), tz)
    if s.get("ends_at"):
        when += f" – {_t(s['ends_at'], tz, date=False)}"
    return f"""<h2>I. Thông tin buổi tiếp công dân</h2>
<table class="kv">
<tr><td>Buổi tiếp</td><td>{escape(s.get("title") or "")}</td></tr>
<tr><td>Mã phiên</td><td class="mono">{escape(s["id"])}</td></tr>
<tr><td>Thời gian dự kiến</td><td>{when}</td></tr>
<tr><td>Mở biên bản lúc</td><td>{_t(s.get("opened_at"), tz)}</td></tr>
<tr><td>Kết thúc lúc</td><td>{_t(s.get("closed_at"), tz)}</td></tr>
<tr><td>Phòng họp trên MCU</td><td>{escape(s.get("conference") or "")}</td></tr>
<tr><td>Số điểm cầu</td><td>{len(s.get("points", []))}</td></tr>
</table>
<p class="note">Giờ ghi trong biên bản là giờ địa phương ({escape(_zone(tz))}).</p>
<h3>Thành phần các điểm cầu</h3>
<table><tr><th>#</th><th>Điểm cầu</th><th>Mã</th><th>Vai trò</th></tr>{roster}</table>"""


def _drills(facts: dict[str, Any], tz: ZoneInfo) -> str:
    drills = facts.get("drills") or []
    out = ["<h2>II. Kiểm thử kết nối trước buổi tiếp (T−1 ngày, T−2 giờ)</h2>"]
    if not drills:
        out.append(
            '<p class="alert">Không có kết quả kiểm thử nào trong hai ngày trước buổi tiếp.</p>'
        )
    labels = {str(d["label"]) for d in drills}
    missing = [lbl for lbl in ("T-1d", "T-2h") if drills and lbl not in labels]
    if missing and any(lbl in labels for lbl in ("T-1d", "T-2h")):
        out.append(
            '<p class="alert">Thiếu lần kiểm thử: '
            + ", ".join(LABEL_VI[m] for m in missing)
            + ".</p>"
        )
    for d in drills:
        label = LABEL_VI.get(str(d["label"]), str(d["label"]))
        rows = "".join(
            f"<tr><td>{escape(p['name'])}</td><td>{_verdict(p['verdict'])}</td>"
            f"<td>{escape('; '.join(p.get('reasons') or [])) or '—'}</td></tr>"
            for p in d.get("points", [])
        )
        seq = d.get("audit_seq")
        out.append(
            f"<h3>Kiểm thử {escape(label)} — {_t(d['started_at'], tz)} — {_verdict(d['verdict'])}</h3>"
            f'<p class="note">Mã kiểm thử <span class="mono">{escape(d["id"])}</span>'
            + (f"; bản ghi nhật ký số {seq}" if seq else "; không có trong nhật ký kiểm toán")
            + ("; kiểm thử nhanh" if d.get("quick") else "")
            + "</p>"
            f"<table><tr><th>Điểm cầu</th><th>Kết quả</th><th>Ghi chú</th></tr>{rows}</table>"
        )
    return "\n".join(out)


def _bringup(facts: dict[str, Any], tz: ZoneInfo) -> str:
    out = ["<h2>III. Kết nối các điểm cầu (bring-up)</h2>"]
    start = _last(entries(facts, "bringup.start"))
    finish = _last(entries(facts, "bringup.finish"))
    points = _last(entries(facts, "session.bringup-points"))
    if start is None:
        out.append('<p class="alert">Không có bản ghi kết nối trong phiên này.</p>')
        return "\n".join(out)
    fd = finish["data"] if finish else {}
    out.append(
        '<table class="kv">'
        f"<tr><td>Bắt đầu</td><td>{_t(start['at'], tz, seconds=True)}</td></tr>"
        f"<tr><td>Hoàn tất</td><td>{_t(finish['at'], tz, seconds=True) if finish else '—'}</td></tr>"
        f"<tr><td>Kết quả</td><td>{_verdict(fd.get('verdict', 'fail'))} — "
        f"{fd.get('connected', 0)}/{fd.get('total', 0)} điểm cầu kết nối; ghi hình "
        f"{'đã kết nối' if fd.get('recording') else '<span class=alert>CHƯA kết nối</span>'}</td></tr>"
        "</table>"
    )
    escalations: dict[str, list[str]] = {}
    for e in entries(facts, "bringup.escalate"):
        escalations.setdefault(str(e.get("target")), []).append(
            f"{_t(e['at'], tz, date=False, seconds=True)} → "
            f"{e['data'].get('protocol', '')} {e['data'].get('address', '')}"
        )
    rows = []
    for p in points["data"].get("points", []) if points else []:
        esc = escalations.get(p["point"], [])
        result = (
            ("đã kết nối sẵn" if p.get("adopted") else "đã kết nối")
            if p.get("connected")
            else f"<span class=alert>không kết nối được</span>: {escape(p.get('reason') or '')}"
        )
        problems = p.get("problems") or []
        if problems:
            result += "<br>" + "<br>".join(
                f"{_verdict(str(p.get('verdict', 'warn')))}: {escape(x)}" for x in problems
            )
        rows.append(
            f"<tr><td>{escape(p['name'])}</td>"
            f"<td>{_t(p.get('connected_at'), tz, date=False, seconds=True) if p.get('connected_at') else '—'}</td>"
            f"<td>{p.get('attempts', 0)}</td><td class=mono>{escape(p.get('address') or '')}</td>"
            f"<td>{'<br>'.join(escape(x) for x in esc) or '—'}</td><td>{result}</td></tr>"
        )
    out.append(
        "<table><tr><th>Điểm cầu</th><th>Kết nối lúc</th><th>Số lần gọi</th><th>Địa chỉ</th>"
        f"<th>Chuyển hướng</th><th>Kết quả</th></tr>{''.join(rows)}</table>"
    )
    return "\n".join(out)


def _incidents(facts: dict[str, Any], tz: ZoneInfo) -> str:
    rows = []
    names = {p["id"]: p["name"] for p in facts["session"].get("points", [])}
    # the teardown's own hang-ups are not incidents
    ended = min((int(e["seq"]) for e in entries(facts, "teardown.start")), default=None)
    for e in entries(facts):
        d = e.get("data") or {}
        action = e.get("action")
        if action == "session.incident" and ended is not None and int(e["seq"]) > ended:
            continue
        if action == "session.incident":
            kind = str(d.get("kind", ""))
            what = INCIDENT_VI.get(kind, kind)
            target = names.get(str(e.get("target")), str(e.get("target") or ""))
            detail = str(d.get("reason") or "")
            if d.get("packet_loss_pct"):
                detail += f" (mất gói {d['packet_loss_pct']} %)"
        elif action == "recording.alert":
            what = f'<span class="alert">{INCIDENT_VI.get(str(d.get("kind")), "Không ghi hình")}</span>'
            rows.append(_row(e, tz, what, "Ghi hình", str(d.get("message", "")), escaped=True))
            continue
        elif action == "recording.resumed":
            what, target, detail = "ghi hình tiếp tục", "Ghi hình", ""
        elif action == "bringup.point_failed":
            what = "không kết nối được"
            target = names.get(str(e.get("target")), str(e.get("target") or ""))
            detail = f"{d.get('reason', '')} sau {d.get('attempts', 0)} lần gọi"
        elif action == "recording.failed":
            what, target, detail = (
                "không kết nối máy ghi hình",
                "Ghi hình",
                str(d.get("reason", "")),
            )
        else:
            continue
        rows.append(_row(e, tz, what, target, detail))
    others = [
        _row(
            e,
            tz,
            str(e.get("action", "")),
            str(e.get("target") or ""),
            _brief(e.get("data") or {}),
            actor=str(e.get("actor", "")),
        )
        for e in other_entries(facts)
    ]
    out = ["<h2>IV. Sự cố và thao tác trong buổi tiếp</h2>"]
    out.append(
        "<table><tr><th>Thời điểm</th><th>Sự cố</th><th>Đối tượng</th><th>Chi tiết</th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else "<p>Không có sự cố nào được ghi nhận.</p>"
    )
    out.append("<h3>Thao tác của người vận hành và sự kiện khác</h3>")
    out.append(
        "<table><tr><th>Thời điểm</th><th>Thao tác</th><th>Đối tượng</th><th>Chi tiết</th></tr>"
        + "".join(others)
        + "</table>"
        if others
        else "<p>Không có thao tác nào khác.</p>"
    )
    return "\n".join(out)


def _teardown(facts: dict[str, Any], tz: ZoneInfo) -> str:
    finish = _last(entries(facts, "teardown.finish"))
    out = ["<h2>V. Kết thúc buổi tiếp (ngắt kết nối)</h2>"]
    if finish is None:
        out.append('<p class="alert">Không có bản ghi ngắt kết nối.</p>')
        return "\n".join(out)
    d = finish["data"]
    parts = d.get("participants") or {}
    mics = d.get("microphones") or {}
    out.append(
        '<table class="kv">'
        f"<tr><td>Hoàn tất lúc</td><td>{_t(finish['at'], tz, seconds=True)}</td></tr>"
        f"<tr><td>Kết quả</td><td>{'Hoàn tất' if d.get('ok') else '<span class=alert>Có lỗi</span>'}</td></tr>"
        f"<tr><td>Đã ngắt</td><td>{sum(1 for v in parts.values() if v == 'removed')}/{len(parts)} kết nối</td></tr>"
        f"<tr><td>Micrô đã tắt</td><td>{sum(1 for v in mics.values() if v == 'muted')} điểm cầu</td></tr>"
        "</table>"
    )
    errors = {
        k: v
        for k, v in {**parts, **mics}.items()
        if v not in ("removed", "muted", "no session microphones")
    }
    if errors:
        out.append(
            "<ul>"
            + "".join(f"<li>{escape(k)}: {escape(str(v))}</li>" for k, v in errors.items())
            + "</ul>"
        )
    return "\n".join(out)


def _recording(facts: dict[str, Any], tz: ZoneInfo) -> str:
    out = ["<h2>VI. Ghi hình tại điểm cầu trung tâm</h2>"]
    link = _last([*entries(facts, "recording.start"), *entries(facts, "recording.failed")])
    finish = _last(entries(facts, "bringup.finish"))
    if link is not None and link["action"] == "recording.start":
        out.append(f"<p>Máy ghi hình được MCU kết nối lúc {_t(link['at'], tz, seconds=True)}.</p>")
    elif link is not None:
        out.append(
            f'<p class="alert">Không kết nối được máy ghi hình: {escape(str(link["data"].get("reason", "")))}</p>'
        )
    elif finish is not None and finish["data"].get("recording"):
        out.append("<p>Máy ghi hình đã được kết nối sẵn trước khi bắt đầu.</p>")
    proof = _last(entries(facts, "recording.file"))
    if proof is None:
        out.append(
            '<p class="note">Hồ sơ cấu hình không khai báo thư mục lưu tệp ghi hình: '
            "chỉ xác nhận được kết nối của máy ghi hình, không kiểm tra được tệp.</p>"
        )
        return "\n".join(out)
    d = proof["data"]
    alerts = d.get("alerts") or []
    status = (
        "<span class=v>Có ghi hình</span> — tệp xuất hiện và tăng kích thước trong suốt buổi"
        if not alerts and d.get("files")
        else '<span class="alert">Không ghi hình</span> — xem cảnh báo bên dưới'
    )
    out.append(
        '<table class="kv">'
        f"<tr><td>Thư mục lưu</td><td class=mono>{escape(str(d.get('directory', '')))}</td></tr>"
        f"<tr><td>Mẫu tên tệp</td><td class=mono>{escape(str(d.get('pattern', '')))}</td></tr>"
        f"<tr><td>Ngưỡng kiểm tra</td><td>{float(d.get('window_min') or 0):g} phút</td></tr>"
        f"<tr><td>Trạng thái</td><td>{status}</td></tr>"
        "</table>"
    )
    out.extend(
        f'<p class="alert">Cảnh báo lúc {_t(a.get("at"), tz, seconds=True)}: '
        f"Không ghi hình — {escape(str(a.get('message', '')))}</p>"
        for a in alerts
    )
    files = recording_files(facts)
    if not files:
        out.append('<p class="alert">Không tìm thấy tệp ghi hình nào của buổi tiếp.</p>')
    for f in files:
        if f.get("error"):
            out.append(
                f'<p class="alert">Tệp {escape(f["name"])}: không đọc được ({escape(f["error"])})</p>'
            )
            continue
        if f.get("duration_s") is not None:
            duration = f"{_hms(float(f['duration_s']))} (theo ffprobe)"
        else:
            why = str(f.get("duration_source", ""))
            reason = "ffprobe chưa được cài đặt" if "not installed" in why else why
            duration = (
                f"không xác định ({escape(reason)}); thời gian ghi quan sát được: "
                f"{_hms(float(f.get('observed_writing_s') or 0))}"
            )
        out.append(
            '<table class="kv">'
            f"<tr><td>Tệp ghi hình</td><td class=mono>{escape(f['name'])}</td></tr>"
            f"<tr><td>Đường dẫn</td><td class=mono>{escape(str(f.get('path', '')))}</td></tr>"
            f"<tr><td>Kích thước</td><td>{_size(int(f.get('size') or 0))}</td></tr>"
            f"<tr><td>Thời lượng</td><td>{duration}</td></tr>"
            f"<tr><td>Bắt đầu ghi</td><td>{_t(f.get('first_seen'), tz, seconds=True)}</td></tr>"
            f"<tr><td>Tăng lần cuối</td><td>{_t(f.get('last_growth'), tz, seconds=True)}</td></tr>"
            f"<tr><td>SHA-256</td><td class=mono>{escape(str(f.get('sha256', '—')))}</td></tr>"
            "</table>"
        )
    return "\n".join(out)


def _chain(facts: dict[str, Any]) -> str:
    a = facts["audit"]
    return f"""<h2>VII. Xác thực</h2>
<table class="kv">
<tr><td>Nhật ký kiểm toán</td><td class=mono>{escape(str(a.get("file", "")))}</td></tr>
<tr><td>Bản ghi cuối khi kết thúc</td><td>số {a["head_seq"]}</td></tr>
<tr><td>Mã băm đầu chuỗi (SHA-256)</td><td class=mono>{escape(a["head_hash"])}</td></tr>
<tr><td>Số bản ghi trích dẫn</td><td>{len(a.get("entries", []))}</td></tr>
</table>
<p class="note">Biên bản trích nguyên văn các bản ghi của nhật ký kiểm toán (chuỗi băm SHA-256).
Kiểm tra biên bản với nhật ký và tệp ghi hình bằng lệnh
<span class="mono">mcu-control report verify &lt;tệp biên bản&gt;</span>.</p>"""


def _signatures() -> str:
    return """<div class="sign">
<div><b>Cán bộ kỹ thuật</b><div class="line">(ký, ghi rõ họ tên)</div></div>
<div><b>Đại diện Ban Tiếp công dân</b><div class="line">(ký, ghi rõ họ tên)</div></div>
</div>"""


# ---------------------------------------------------------------------- helpers


def _tz(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Asia/Ho_Chi_Minh")
    except (ValueError, KeyError, OSError):
        return ZoneInfo("Asia/Ho_Chi_Minh")


def _t(iso: str | None, tz: ZoneInfo, *, date: bool = True, seconds: bool = False) -> str:
    """An ISO time in the site's time zone: `10/12/2026 08:00 (+07)`."""
    if not iso:
        return "—"
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return escape(iso)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    t = t.astimezone(tz)
    offset = t.strftime("%z")
    zone = f"+{offset[1:3]}" if offset[0] == "+" and offset[3:] == "00" else offset
    fmt = "%H:%M:%S" if seconds else "%H:%M"
    return f"{t.strftime('%d/%m/%Y ' + fmt)} ({zone})" if date else t.strftime(fmt)


def _zone(tz: ZoneInfo) -> str:
    return f"{tz.key}, UTC{dt.datetime(2026, 1, 1, tzinfo=tz).strftime('%z')[:3]}"


def _verdict(v: str) -> str:
    return f'<span class="v" style="color:{COLOUR.get(v, "#333")}">{VERDICT_VI.get(v, escape(v))}</span>'


def _row(
    e: dict[str, Any],
    tz: ZoneInfo,
    what: str,
    target: str,
    detail: str,
    *,
    actor: str = "",
    escaped: bool = False,
) -> str:
    who = f" ({escape(actor)})" if actor else ""
    return (
        f"<tr><td>{_t(e.get('at'), tz, date=False, seconds=True)}</td>"
        f"<td>{what if escaped else escape(what)}{who}</td><td>{escape(target)}</td>"
        f"<td>{escape(detail)}</td></tr>"
    )


def _brief(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:199] + "…"


def _last(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(items, key=lambda e: int(e["seq"])) if items else None


def _size(n: int) -> str:
    """`1,5 MiB (1.572.864 byte)`: Vietnamese decimal comma and thousands dot."""
    exact = f"{n:,} byte".replace(",", ".")
    if n < 1024:
        return exact
    value, unit = float(n), "B"
    for unit in ("KiB", "MiB", "GiB"):  # noqa: B007 — the last unit reached is the one shown
        value /= 1024
        if value < 1024:
            break
    return f"{value:.1f}".replace(".", ",") + f" {unit} ({exact})"


def _hms(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}".replace(".", ",") + " giây"
    s = round(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"
