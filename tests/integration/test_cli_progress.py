"""What a technician and a cron log see from drill, bringup and report (issue 17).

Subprocesses with stdout/stderr on pipes (no terminal), against the simulated rig.
"""

from __future__ import annotations

import re
from pathlib import Path

from daemon_support import run_cli

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from profiles import load_profile

from .conftest import fast

ROOT = Path(__file__).resolve().parents[2]


async def _cli(*args: str, state: Path, timeout: float = 90) -> tuple[int, str, str]:
    # no COLUMNS: a log or a pipe, as cron sees it
    progress = {"MCU_CONTROL_PROGRESS_EVERY_S": "0.2"}
    return await run_cli(*args, state=state, timeout=timeout, env=progress, drop=("COLUMNS",))


async def test_long_errors_stay_on_one_line_without_a_terminal(tmp_path: Path) -> None:
    long_id = "diem-" + "x" * 300
    code, _out, err = await _cli("drill", "--point", long_id, state=tmp_path)
    assert code == 3
    line = next(ln for ln in err.splitlines() if "unknown point" in ln)
    assert long_id in line  # not cut at 160 columns
    assert not line.startswith("profile error")  # a wrong argument, not the profile
    code, _out, err = await _cli("mcu", "dial", "no-such-point", state=tmp_path)
    assert code == 3, err  # the user's mistake (was: internal error, exit 4)
    assert "no point 'no-such-point'" in err

    data = demo_data()
    data["points"][1]["name"] = ""  # a located profile problem: file:line: path: message
    data["site"]["name"] = "Tỉnh " + "rất dài " * 40
    path = write_profile(data, tmp_path)
    code, _out, err = await _cli("profile", "check", "--profile", str(path), state=tmp_path)
    assert code == 3, err
    located = [ln for ln in err.splitlines() if re.search(r"rig\.yaml:\d+: ", ln)]
    assert located, err
    for ln in located:  # each problem whole on its line, greppable
        assert re.fullmatch(r"\s*\S+rig\.yaml:\d+: \S+: .+", ln), ln


async def test_drill_and_bringup_progress_summary_and_html(tmp_path: Path) -> None:
    path = write_profile(fast(remap_ports(demo_data())), tmp_path)
    loaded = load_profile(path)
    rig = Rig(loaded, load_scenario("mixer-down"))
    await rig.start()
    try:
        code, out, err = await _cli("drill", "--quick", "--profile", str(path), state=tmp_path)
        assert code == 2, out + err  # the mixer at Từ Sơn is down
        ticks = [ln for ln in err.splitlines() if ln.startswith("drill ")]
        assert ticks and ticks[0].startswith("drill started: 0/"), err
        assert re.search(r"checks done \(FAIL \d+, WARN \d+\)", ticks[-1])
        # the summary comes before the table, FAIL rows first
        head = out.index("FAIL,")
        assert head < out.index("┃ Point") if "┃ Point" in out else head < out.index("Point")
        summary = out[head : out.index("\n\n", head)]
        assert "TX Từ Sơn" in summary and "FAIL" in summary

        html = tmp_path / "drill.html"
        code, _out, err = await _cli(
            "report", "drill", "--last", "--html", str(html), "--profile", str(path),
            "--quiet", state=tmp_path,
        )  # fmt: skip
        assert code == 0, err
        page = html.read_text(encoding="utf-8")
        assert loaded.profile.site.name in page  # the name, not only the id
        assert 'class="legend"' in page and "KHÔNG ĐẠT / FAIL" in page
        rows = re.findall(r'<td rowspan="\d+">([^<]+)<br><span[^>]*>[^<]*/ (\w+)</span>', page)
        rank = {"FAIL": 0, "WARN": 1, "PASS": 2}
        assert [rank[v] for _n, v in rows] == sorted(rank[v] for _n, v in rows), rows
        assert ("TX Từ Sơn", "FAIL") in rows  # failures first (the mixer is down)

        code, out, err = await _cli(
            "bringup", "--point", "tien-du", "--point", "tx-tu-son", "--profile", str(path),
            state=tmp_path,
        )  # fmt: skip
        lines = [ln for ln in err.splitlines() if ln.startswith("bringup: ")]
        for point in ("tien-du", "tx-tu-son"):
            mine = [ln for ln in lines if ln.startswith(f"bringup: {point}: ")]
            assert mine[0].startswith(f"bringup: {point}: started ("), lines
            assert any(": call PASS" in ln for ln in mine), lines
            assert len(mine) >= 3  # start, the call, each camera and the microphones
        assert any("tx-tu-son: mixer.unmute FAIL" in ln for ln in lines), lines
    finally:
        await rig.stop()
