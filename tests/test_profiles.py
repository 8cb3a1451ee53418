"""Profiles: the shipped ones load; malformed ones are rejected with the field path and line."""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devices.errors import ConfigError
from devices.secrets import Secret, redact
from profiles import load_profile
from profiles.common import SecretFileModeWarning, SecretRef, parse_duration

SITES = Path(__file__).resolve().parent.parent / "profiles" / "sites"

CENTRAL_NAMES = {"Trụ sở Tiếp công dân tỉnh Bắc Ninh"}
DISTRICTS = {
    "TP Bắc Ninh",
    "TX Từ Sơn",
    "Huyện Tiên Du",
    "Huyện Yên Phong",
    "TX Quế Võ",
    "TX Thuận Thành",
    "Huyện Gia Bình",
    "Huyện Lương Tài",
}


@pytest.mark.parametrize("name", ["bac-ninh", "demo"])
def test_shipped_profiles_load(name: str) -> None:
    loaded = load_profile(SITES / f"{name}.yaml")
    p = loaded.profile
    assert len(p.points) == 9
    assert [pt.name for pt in p.points if pt.role == "central"] == list(CENTRAL_NAMES)
    assert {pt.name for pt in p.points if pt.role == "component"} == DISTRICTS
    assert p.site.timezone == "Asia/Ho_Chi_Minh"
    assert p.mcu.conference.name == "TCD-BacNinh"
    assert p.central.recorder is not None
    for pt in p.points:
        assert pt.link.bandwidth_mbps == 50
        assert 1 <= len(pt.cameras) <= 2
        for cam in pt.cameras:
            assert {"chủ trì", "công dân", "toàn cảnh"} <= set(cam.presets)
            assert loaded.camera_model(cam.model).protocol in ("onvif", "visca")
        assert pt.mixer is not None and pt.mixer.session_channels
    rule = p.sessions.rules[0]
    assert rule.recurrence.kind == "quarterly" and rule.recurrence.day == 10
    assert p.sessions.plan.drills_before == ["1d", "2h"]


def test_both_profiles_describe_the_same_site() -> None:
    real = load_profile(SITES / "bac-ninh.yaml").profile
    demo = load_profile(SITES / "demo.yaml").profile
    assert [p.id for p in real.points] == [p.id for p in demo.points]
    assert [[c.driver for c in p.cameras] for p in real.points] == [
        [c.driver for c in p.cameras] for p in demo.points
    ]
    for pt in demo.points:
        for cam in pt.cameras:
            assert (cam.host or "127.0.0.1") == "127.0.0.1"


def _mutate(data: dict[str, Any], fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    fn(out)
    return out


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def fn(d: dict[str, Any]) -> None:
        node: Any = d
        keys = _split(path)
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return fn


def _del(path: str) -> Callable[[dict[str, Any]], None]:
    def fn(d: dict[str, Any]) -> None:
        node: Any = d
        keys = _split(path)
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]

    return fn


def _split(path: str) -> list[Any]:
    out: list[Any] = []
    for piece in path.replace("[", ".[").split("."):
        if piece:
            out.append(int(piece[1:-1]) if piece.startswith("[") else piece)
    return out


def _both(*fns: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def fn(d: dict[str, Any]) -> None:
        for f in fns:
            f(d)

    return fn


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "no central point",
        _set("points[0].role", "component"),
        "points[0]",
        "only the central point holds",
    ),
    ("two central points", _set("points[3].role", "central"), "points[3]", "needs its `mcu`"),
    (
        "two central points with mcus",
        lambda d: d["points"][3].update(role="central", mcu=d["points"][0]["mcu"]),
        "",
        "exactly one point has role: central",
    ),
    (
        "duplicate point ids",
        _set("points[2].id", "tien-du"),
        "",
        "point ids must be unique: tien-du",
    ),
    (
        "duplicate device ids",
        _set("points[1].cameras[1].id", "cam1"),
        "points[1]",
        "unique within a point",
    ),
    (
        "bad port",
        _set("points[1].cameras[0].port", 70000),
        "points[1].cameras[0].port",
        "must be at most 65535",
    ),
    (
        "port not a number",
        _set("points[0].mcu.port", "http"),
        "points[0].mcu.port",
        "must be a whole number",
    ),
    (
        "inline password",
        _set("points[0].mcu.password", "hunter22"),
        "points[0].mcu.password",
        "never written inline",
    ),
    (
        "inline community",
        _set("points[2].mixer.snmp.community", "public"),
        "points[2].mixer.snmp.community",
        "never written inline",
    ),
    (
        "secret with both env and file",
        _set("points[0].mcu.password", {"env": "A", "file": "/x"}),
        "points[0].mcu.password",
        "exactly one of `env` or `file`",
    ),
    (
        "unknown camera model",
        _set("points[4].cameras[0].model", "acme-9000"),
        "points[4].cameras[0].model",
        "unknown model 'acme-9000'",
    ),
    (
        "model of the wrong kind",
        _set("points[4].mixer.model", "sony-srg-300h"),
        "points[4].mixer.model",
        "is a camera model",
    ),
    (
        "driver and model disagree",
        _set("points[4].cameras[0].model", "sony-srg-300h"),
        "points[4].cameras[0].driver",
        "speaks visca",
    ),
    ("bad timezone", _set("site.timezone", "Asia/Hanoi_City"), "site.timezone", "unknown timezone"),
    (
        "unknown key",
        _set("points[1].codec.bandwith", 50),
        "points[1].codec.bandwith",
        "unknown key",
    ),
    ("unknown top-level key", _set("sesions", {}), "sesions", "unknown key"),
    (
        "wrong type",
        _set("points[1].link.bandwidth_mbps", "fifty"),
        "points[1].link.bandwidth_mbps",
        "must be a number",
    ),
    ("no points", _set("points", []), "points", "needs at least 1 item"),
    ("missing codec", _del("points[5].codec"), "points[5].codec", "is required"),
    (
        "visca preset out of range",
        _set("points[3].cameras[0].presets.chủ trì", "200"),
        "points[3].cameras[0].presets",
        "outside sony-srg-300h's range 0–15",
    ),
    (
        "session preset not a preset",
        _set("points[1].cameras[0].session_preset", "bục phát biểu"),
        "points[1].cameras[0]",
        "is not one of the presets",
    ),
    (
        "session channel not a channel",
        _set("points[1].mixer.session_channels", ["mic-3"]),
        "points[1].mixer",
        "session channel 'mic-3'",
    ),
    (
        "bad id slug",
        _set("points[1].id", "TP Bắc Ninh"),
        "points[1].id",
        "lowercase letters (no diacritics), digits",
    ),
    (
        "bad duration",
        _set("sessions.plan.bringup_before", "soon"),
        "sessions.plan.bringup_before",
        "not a duration",
    ),
    (
        "bad recurrence kind",
        _set("sessions.rules[0].recurrence.kind", "yearly"),
        "sessions.rules[0].recurrence",
        "unknown kind 'yearly'",
    ),
    (
        "quarterly day 32",
        _set("sessions.rules[0].recurrence.day", 32),
        "sessions.rules[0].recurrence.day",
        "must be at most 31",
    ),
    (
        "unquoted sexagesimal time",
        _set("sessions.rules[0].start", 630),
        "sessions.rules[0].start",
        "write the time in quotes",
    ),
    (
        "visca serial camera without serial",
        _del("points[3].cameras[0].serial"),
        "points[3].cameras[0]",
        "needs `serial",
    ),
    (
        "sip codec address without sip:",
        _set("points[1].codec.address", "10.0.0.1"),
        "points[1].codec",
        "starts with sip:",
    ),
    (
        "mcu at a component point",
        lambda d: d["points"][2].update(mcu=d["points"][0]["mcu"]),
        "points[2]",
        "only the central point",
    ),
    (
        "tesira channel without block",
        _del("points[1].mixer.channels.mic-chu-tri.block"),
        "points[1].mixer",
        "needs `block`",
    ),
    (
        "snmpv3 without keys",
        _set("points[2].mixer.snmp", {"version": "3", "user": "u"}),
        "points[2].mixer.snmp",
        "authPriv needs",
    ),
]


@pytest.mark.parametrize(
    ("case", "mutation", "path", "message"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_profile_rejected_with_path(
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
    case: str,
    mutation: Callable[[dict[str, Any]], None],
    path: str,
    message: str,
) -> None:
    target = write_profile(_mutate(demo_profile_data, mutation))
    with pytest.raises(ConfigError) as info:
        load_profile(target)
    problems = info.value.problems
    assert problems, case
    match = [p for p in problems if p.path == path and message in p.message]
    assert match, f"{case}: wanted {path!r} / {message!r}, got {[str(p) for p in problems]}"
    assert match[0].file == str(target)
    assert match[0].line is not None and match[0].line >= 1


def test_error_line_points_at_the_offending_yaml_line(tmp_path: Path) -> None:
    text = (SITES / "demo.yaml").read_text(encoding="utf-8")
    marker = "    port: 52411"
    assert marker in text
    bad = text.replace(marker, "    port: 99999", 1)
    (tmp_path / "sites").mkdir()
    target = tmp_path / "sites" / "p.yaml"
    target.write_text(bad, encoding="utf-8")
    expected_line = bad.splitlines().index("    port: 99999") + 1
    with pytest.raises(ConfigError) as info:
        load_profile(target)
    (problem,) = info.value.problems
    assert problem.path == "points[1].cameras[1].port"
    assert problem.line == expected_line
    assert f"p.yaml:{expected_line}: points[1].cameras[1].port" in str(problem)


def test_every_problem_is_reported_at_once(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    data = _mutate(
        demo_profile_data,
        _both(_set("points[1].cameras[0].port", 0), _set("site.timezone", "Mars/Base")),
    )
    with pytest.raises(ConfigError) as info:
        load_profile(write_profile(data))
    assert {p.path for p in info.value.problems} == {"points[1].cameras[0].port", "site.timezone"}


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(bad)
    assert "not valid YAML" in info.value.problems[0].message
    with pytest.raises(ConfigError, match="does not exist"):
        load_profile(tmp_path / "nope.yaml")


def test_secret_reference_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCU_TEST_SECRET", "s3cr3t-value")
    secret = SecretRef(env="MCU_TEST_SECRET").resolve()
    assert secret.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in str(secret)
    assert redact("login with s3cr3t-value failed") == "login with *** failed"

    monkeypatch.delenv("MCU_TEST_SECRET")
    with pytest.raises(ConfigError, match="MCU_TEST_SECRET is not set"):
        SecretRef(env="MCU_TEST_SECRET").resolve()

    f = tmp_path / "pw"
    f.write_text("from-a-file\n", encoding="utf-8")
    os.chmod(f, 0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SecretRef(file=f).resolve().reveal() == "from-a-file"
    os.chmod(f, 0o644)
    with pytest.warns(SecretFileModeWarning, match="chmod 600"):
        SecretRef(file=f).resolve()


def test_secret_equality_does_not_reveal() -> None:
    assert Secret("abc123") == Secret("abc123")
    assert f"{Secret('abc123')}" == "Secret('***')"


@pytest.mark.parametrize(
    ("text", "seconds"), [("1d", 86400), ("2h", 7200), ("15m", 900), ("1h30m", 5400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1x", "h2", "1d soon"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


# --------------------------------------------------------------------------- fuzz findings


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("site: 2024-02-30\n", None),
        ("site: " + "1" * 5000 + "\n", None),
        ("site: " + "[" * 200_000 + "]" * 200_000 + "\n", 1),
        ("!!timestamp x\n", None),
        ("site: !!int\n", None),
        ("site: !!bool x\n", None),
    ],
    ids=[
        "impossible-date",
        "huge-int",
        "deep-nesting-segfaulted-libyaml",
        "tag-timestamp",
        "tag-int",
        "tag-bool",
    ],
)
def test_fuzz_yaml_scalars_and_nesting_are_config_errors(
    tmp_path: Path, text: str, line: int | None
) -> None:
    """Whatever PyYAML or libyaml says about the file, it is a located ConfigError (exit 3)."""
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    problems = caught.value.problems
    assert problems, "a profile error names at least one located problem"
    assert problems[0].file == str(path)
    assert str(path) in str(caught.value)
    if line is not None:
        assert problems[0].line == line


def test_participant_names_over_the_mcu_limit_fail_before_the_wire(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    """The Codian model accepts 31-character names; the recorder's id is its participant name."""
    data = demo_profile_data
    central = next(p for p in data["points"] if p.get("role") == "central")
    assert central["mcu"]["model"] == "cisco-mcu-5320"
    long_id = "ghi-hinh-phong-tiep-cong-dan-tinh"  # 33 characters, a valid slug
    central["recorder"]["id"] = long_id
    with pytest.raises(ConfigError) as exc:
        load_profile(write_profile(data))
    text = " ".join(str(p) for p in exc.value.problems)
    assert long_id in text and "at most 31" in text
    assert "recorder.id" in text
