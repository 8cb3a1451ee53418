"""Bad inputs a technician can type: each is exit 3 with what to fix, before any device I/O.

Unknown ids in every command, out-of-range and non-finite numbers, far dates, unusable report
paths, unsupported database URLs, decomposed Unicode. No case may end as exit 4 ("a bug"), and
every one prints the documented JSON error shape with `--json`. The profile's devices are not
running: a case that reached a device would end 2, not 3.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

import cli
from mcu_control.orchestrator import resolve_channel, resolve_preset
from profiles.loader import SHIPPED_SITES, load_profile

UNKNOWN_POINT = [
    ("mcu", "dial", "ha-noi"),
    ("mcu", "hangup", "ha-noi"),
    ("mcu", "mute", "ha-noi"),
    ("mcu", "unmute", "ha-noi"),
    ("camera", "goto", "ha-noi", "cam1", "chủ trì"),
    ("camera", "move", "ha-noi", "cam1"),
    ("camera", "stop", "ha-noi", "cam1"),
    ("mixer", "mute", "ha-noi", "mic-chu-tri"),
    ("mixer", "level", "ha-noi", "loa-phong"),
    ("codec", "ping", "ha-noi"),
    ("drill", "--point", "ha-noi"),
    ("bringup", "--point", "ha-noi"),
    ("teardown", "--point", "ha-noi"),
]

#: (argv, words the message or hint must contain: what to fix)
OUT_OF_RANGE = [
    (("mixer", "level", "trung-tam", "loa-phong", "50"), ["-100…12 dB"]),
    (("mixer", "level", "trung-tam", "loa-phong", "nan"), ["finite", "-100…12 dB"]),
    (("mixer", "level", "trung-tam", "loa-phong", "1e309"), ["finite"]),
    (("mixer", "level", "trung-tam", "loa-phong", "-inf"), ["finite"]),
    (("camera", "move", "tp-bac-ninh", "cam2", "--pan", "-1e308"), ["--pan", "-1…1"]),
    (("camera", "move", "tp-bac-ninh", "cam2", "--tilt", "nan"), ["--tilt", "finite"]),
    (("camera", "move", "tp-bac-ninh", "cam2", "--pan", "5"), ["--pan", "-1…1"]),
    (("camera", "move", "trung-tam", "cam1", "--absolute", "--zoom", "-0.5"), ["--zoom", "0…1"]),
    (("camera", "move", "trung-tam", "cam1", "--timeout", "inf"), ["--timeout"]),
    (("status", "--timeout", "0"), ["--timeout", "above 0"]),
    (("status", "--timeout", "nan"), ["--timeout"]),
    (("mcu", "dial", "tien-du", "--wait", "nan"), ["--wait"]),
    (("schedule", "list", "--to", "9999-12-31"), ["--to", "2100-12-31"]),
    (("schedule", "list", "--from", "0001-01-01"), ["--from", "1901-01-01"]),
    (("schedule", "list", "--database", "mysql://u@h/db"), ["mysql", "postgresql+psycopg"]),
    (("report", "drill", "--html", "/nonexistent/folder/r.html"), ["/nonexistent/folder"]),
    (("camera", "goto", "trung-tam", "cam9", "x"), ["cam9", "cam1"]),
    (("mixer", "mute", "trung-tam", "no-mic"), ["no-mic", "mic-chu-tri"]),
]


def _run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, dict[str, object]]:
    with pytest.raises(SystemExit) as done:
        cli.main(["--state-dir", str(tmp_path), "--json", *argv])
    out = capsys.readouterr().out
    code = done.value.code
    assert isinstance(code, int)
    return code, json.loads(out)


@pytest.mark.parametrize("argv", UNKNOWN_POINT, ids=" ".join)
def test_an_unknown_point_is_exit_3_naming_the_known_points(
    argv: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(tmp_path, capsys, *argv)
    assert code == 3, out
    assert out["ok"] is False and out["exit_code"] == 3
    text = f"{out['message']} {out['hint']}"
    assert "ha-noi" in text and "trung-tam" in text  # the typo and the ids to use instead


@pytest.mark.parametrize(("argv", "fix"), OUT_OF_RANGE, ids=" ".join)
def test_out_of_range_values_are_exit_3_with_the_allowed_range(
    argv: tuple[str, ...], fix: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(tmp_path, capsys, *argv)
    assert code == 3, out
    text = f"{out['message']} {out['hint']}"
    for word in fix:
        assert word in text, text


def test_every_failure_has_the_one_json_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shapes = set()
    for argv in [UNKNOWN_POINT[0], OUT_OF_RANGE[0][0], ("camera", "move", "x", "--bogus")]:
        _, out = _run(tmp_path, capsys, *argv)
        shapes.add(tuple(sorted(out)))
    assert len(shapes) == 1
    assert set(next(iter(shapes))) >= {"ok", "exit_code", "error", "kind", "message", "hint"}


def test_a_bug_is_exit_4_with_the_same_json_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcu_control.commands import ops

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ops, "_site", broken)
    code, out = _run(tmp_path, capsys, "status")
    assert code == 4
    assert out["exit_code"] == 4 and out["error"] == "ZeroDivisionError"
    assert "report" in str(out["hint"])


def test_decomposed_unicode_names_match_the_profile() -> None:
    profile = load_profile(SHIPPED_SITES / "demo.yaml").profile
    point = profile.point("trung-tam")
    typed = unicodedata.normalize("NFD", "công dân")
    assert typed != "công dân"
    _, cam, name, token = resolve_preset(point, "cam1", typed)
    assert (cam.id, name) == ("cam1", "công dân") and token == cam.presets["công dân"]
    assert resolve_channel(point, unicodedata.normalize("NFD", "mic-chu-tri")) == "mic-chu-tri"


def test_a_missing_secret_is_exit_3_not_a_failed_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a copy of the demo site: the shipped demo profile itself gets the rig's default secret
    profile = tmp_path / "site.yaml"
    profile.write_text((SHIPPED_SITES / "demo.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.delenv("MCU_CONTROL_DEMO_SECRET", raising=False)
    code, out = _run(tmp_path, capsys, "--profile", str(profile), "drill")
    assert code == 3
    assert "MCU_CONTROL_DEMO_SECRET" in json.dumps(out["problems"])
