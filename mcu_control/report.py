"""A drill report as one self-contained HTML file (no scripts, no external assets)."""

from __future__ import annotations

import datetime as dt
from html import escape

from mcu_control.results import DrillReport, PointResult, Verdict

COLOURS = {Verdict.PASS: "#2e7d32", Verdict.WARN: "#f9a825", Verdict.FAIL: "#c62828"}
LABELS_VI = {Verdict.PASS: "ĐẠT", Verdict.WARN: "CẢNH BÁO", Verdict.FAIL: "KHÔNG ĐẠT"}


#: failures first: the technician reads the report top down
ORDER = {Verdict.FAIL: 0, Verdict.WARN: 1, Verdict.PASS: 2}


def render_html(
    report: DrillReport,
    *,
    point_names: dict[str, str] | None = None,
    site_name: str | None = None,
    tz: dt.tzinfo | None = None,
) -> str:
    """A self-contained HTML page, failures first; times in `tz` (the site's) when given."""
    names = point_names or {p.point: p.name for p in report.points}
    points = sorted(report.points, key=lambda p: ORDER.get(p.verdict, 3))  # stable: profile order
    rows = "\n".join(_point_rows(p) for p in points)
    site = escape(site_name or report.site) + (
        f" <small>({escape(report.site)})</small>" if site_name else ""
    )
    duration = (
        f"{(report.finished_at - report.started_at).total_seconds():.1f} s"
        if report.finished_at
        else "—"
    )
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<title>Kiểm thử kết nối {escape(report.id)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.5em; }} table {{ border-collapse: collapse; width: 100%; margin-top: 1em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; }} .v {{ color: #fff; font-weight: bold; padding: 2px 6px; border-radius: 3px; }}
.meta td {{ border: none; padding: 2px 12px 2px 0; }}
.legend span.sw {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }}
</style></head><body>
<h1>Báo cáo kiểm thử kết nối — drill report</h1>
<table class="meta">
<tr><td>Site</td><td>{site}</td></tr>
<tr><td>Drill</td><td>{escape(report.id)} ({escape(report.label)}{", quick" if report.quick else ""})</td></tr>
<tr><td>Started</td><td>{escape(report.started_at.astimezone(tz).isoformat(timespec="seconds"))}</td></tr>
<tr><td>Duration</td><td>{duration}</td></tr>
<tr><td>Verdict</td><td>{_badge(report.verdict)}</td></tr>
</table>
<h2>Điểm cầu — points</h2>
{_legend()}
{_chart(points, names)}
<table><tr><th>Point</th><th>Check</th><th>Device</th><th>Verdict</th><th>Reason</th><th>Time</th></tr>
{rows}
</table>
</body></html>
"""


def _badge(v: Verdict) -> str:
    return (
        f'<span class="v" style="background:{COLOURS[v]}">{LABELS_VI[v]} / {v.value.upper()}</span>'
    )


def _legend() -> str:
    """What the chart's colours mean (number in a bar: how many checks)."""
    items = "".join(
        f'<span class="sw" style="background:{COLOURS[v]}"></span>{LABELS_VI[v]} / {v.value.upper()}'
        for v in (Verdict.PASS, Verdict.WARN, Verdict.FAIL)
    )
    return f'<p class="legend">Số phép kiểm tra mỗi điểm cầu — checks per point:{items}</p>'


def _point_rows(p: PointResult) -> str:
    out = []
    checks = sorted(p.checks, key=lambda c: ORDER.get(c.verdict, 3))
    for i, c in enumerate(checks):
        head = (
            f'<td rowspan="{len(checks)}">{escape(p.name)}<br>{_badge(p.verdict)}</td>'
            if i == 0
            else ""
        )
        out.append(
            f"<tr>{head}<td>{escape(c.check)}</td><td>{escape(c.device or '')}</td>"
            f"<td>{_badge(c.verdict)}</td><td>{escape(c.reason)}</td><td>{c.duration_s:.2f} s</td></tr>"
        )
    return "\n".join(out)


def _chart(points: list[PointResult], names: dict[str, str]) -> str:
    """A stacked bar per point: how many checks passed, warned and failed (inline SVG)."""
    bar_h, gap, label_w, width = 22, 8, 260, 420
    most = max((len(p.checks) for p in points), default=1) or 1
    parts = []
    for i, p in enumerate(points):
        y = i * (bar_h + gap)
        parts.append(
            f'<text x="0" y="{y + 16}" font-size="13">{escape(names.get(p.point, p.point))}</text>'
        )
        x = float(label_w)
        for v in Verdict:
            n = sum(1 for c in p.checks if c.verdict is v)
            if n:
                w = width * n / most
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{COLOURS[v]}">'
                    f"<title>{v.value}: {n}</title></rect>"
                    f'<text x="{x + 4:.1f}" y="{y + 16}" font-size="12" fill="#fff">{n}</text>'
                )
                x += w
    h = len(points) * (bar_h + gap)
    return (
        f'<svg role="img" aria-label="checks per point" width="{label_w + width + 10}" height="{h}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )
