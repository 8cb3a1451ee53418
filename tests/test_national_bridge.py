"""The national view: the shipped mosquitto bridge between two real brokers, and national.html.

A province broker runs packaging/mosquitto/bridge-national.conf.example (addresses and file
paths substituted) and bridges to a national broker that authenticates it by its TLS client
certificate. A real `mcu-control run` publishes the province's feed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon_support import ROOT, daemon_argv, stop_daemons
from mqtt_support import Mosquitto, Recorder, free_port, make_pki, mosquitto
from test_mqtt_panel import _page_text, chromium, published, seeded  # noqa: F401  (a fixture)

from mcu_control.state import SessionPhase, SessionState
from profiles.loader import load_profile

BRIDGE_EXAMPLE = ROOT / "packaging" / "mosquitto" / "bridge-national.conf.example"
PAGE = ROOT / "panels" / "national.html"
SITE = "bac-ninh-demo"
PREFIX = f"mcu-control/{SITE}"


def _bridge_conf(national_tls_port: int, pki: dict[str, Path]) -> str:
    """The shipped example with this test's province id, national address and PKI files."""
    text = BRIDGE_EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"\bbac-ninh\b", SITE, text)
    text = text.replace("tctd-national.example.vn:8883", f"localhost:{national_tls_port}")
    text = text.replace("/etc/mosquitto/bridge/national-ca.pem", str(pki["cafile"]))
    text = text.replace(f"/etc/mosquitto/bridge/{SITE}.pem", str(pki["client_cert"]))
    text = text.replace(f"/etc/mosquitto/bridge/{SITE}.key", str(pki["client_key"]))
    text = text.replace("restart_timeout 2 30", "restart_timeout 1 2")  # fast test reconnects
    settings = [line for line in text.splitlines() if not line.startswith("#")]
    assert not [line for line in settings if "/etc/" in line or "example.vn" in line]
    return "\n".join(settings) + "\n"


def _national(workdir: Path, pki: dict[str, Path], tls_port: int) -> Mosquitto:
    """Plain listener for the test's observer, a WebSocket one for the page, TLS for bridges."""
    return Mosquitto(
        workdir,
        ws_port=free_port(),
        # anonymous (observer, page) may only read; a bridge writes under its own CN only
        acl="topic read national/#\npattern write national/%u/#\n",
        extra_conf="\n".join(
            [
                f"listener {tls_port} 127.0.0.1",
                f"cafile {pki['cafile']}",
                f"certfile {pki['certfile']}",
                f"keyfile {pki['keyfile']}",
                "require_certificate true",
                "use_identity_as_username true",
            ]
        ),
    )


def _latest(rec: Recorder, topic: str) -> Callable[[list[Any]], Any]:
    return lambda _msgs: rec.latest(topic)


def _run_daemon(profile: Path, state: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        daemon_argv(profile, state, "--mqtt-url", url, "--poll-interval", "60"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_province_feed_reaches_the_national_broker_and_page(
    tmp_path: Path,
    chromium: str,  # noqa: F811
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    local = soon.astimezone(dt.timezone(dt.timedelta(hours=7)))
    demo_profile_data["sessions"]["rules"] = []
    demo_profile_data["sessions"]["one_off"] = [
        {
            "id": "phien-quoc-gia",
            "title": "Tiếp công dân cùng Trụ sở Trung ương",
            "date": local.date().isoformat(),
            "start": local.time().replace(microsecond=0).isoformat(),
            "duration": "1h",
        }
    ]
    profile = write_profile(demo_profile_data)
    pki_nat = make_pki(tmp_path / "nat", client_cn=SITE)
    prov_dir = tmp_path / "prov"
    prov_dir.mkdir()
    pki = {k: Path(shutil.copy(v, prov_dir / v.name)) for k, v in pki_nat.items()}
    tls_port = free_port()
    national = _national(tmp_path / "nat", pki_nat, tls_port)
    national.start()
    daemon: subprocess.Popen[bytes] | None = None
    rec: Recorder | None = None
    try:
        with mosquitto(prov_dir, extra_conf=_bridge_conf(tls_port, pki)) as province:
            rec = Recorder(national.port, ["national/#"])
            # the bridge itself is announced (its notification topic), before any daemon
            await asyncio.to_thread(rec.wait_for, _latest(rec, f"national/{SITE}/bridge"), 10)
            assert str(rec.latest(f"national/{SITE}/bridge")) == "1"

            daemon = _run_daemon(profile, tmp_path / "state", province.url())
            status = f"national/{SITE}/status"
            await asyncio.to_thread(rec.wait_for, lambda _m: rec.latest(status) == "online", 30)
            await asyncio.to_thread(
                rec.wait_for, _latest(rec, f"national/{SITE}/point/tien-du"), 10
            )
            session = await asyncio.to_thread(
                rec.wait_for, _latest(rec, f"national/{SITE}/session"), 10
            )
            assert session["site_name"] == "Tỉnh Bắc Ninh (mô phỏng)"
            assert "tien-du" in session["points"]
            # retained on the national broker: a late subscriber gets it at once
            late = Recorder(national.port, [f"national/{SITE}/#"])
            try:
                await asyncio.to_thread(
                    late.wait_for, lambda _m: late.latest(status) == "online", 5
                )
                # each topic's first message is the broker's retained copy (later ones may be
                # live updates of the running daemon, which MQTT delivers unretained)
                first: dict[str, bool] = {}
                for topic, _payload, retained, _p in list(late.messages):
                    first.setdefault(topic, retained)
                assert first and all(first.values()), first
                # nothing outside the province's state is bridged (events, commands)
                assert not [t for t, *_ in late.messages if "/events" in t or "/cmd/" in t]
            finally:
                late.close()

            page = f"{PAGE.as_uri()}?broker=ws://127.0.0.1:{national.ws_port}&prefix=national"
            text = await _page_text(chromium, page, lambda t: "Huyện Tiên Du" in t, tmp_path / "c1")
            assert "Tỉnh Bắc Ninh (mô phỏng)" in text
            assert "Trực tuyến" in text
            assert "Trụ sở Tiếp công dân tỉnh Bắc Ninh" in text
            assert f"Điểm cầu trong phiên: {len(session['points'])}" in text
            assert "Đã kết nối máy chủ" in text

            # kill -9: the province broker publishes the daemon's last will; it is bridged
            daemon.kill()
            daemon.wait(5)
            await asyncio.to_thread(rec.wait_for, lambda _m: rec.latest(status) == "offline", 10)
            text = await _page_text(
                chromium,
                page,
                lambda t: "Hệ thống điều khiển tỉnh không phản hồi" in t,
                tmp_path / "c2",
            )
            assert "Trực tuyến" not in text

            # the national broker restarts empty (no persistence): the bridge reconnects and
            # sends the province's retained state again
            national.stop()
            rec.close()
            rec = None
            national.start()
            rec = Recorder(national.port, ["national/#"])
            await asyncio.to_thread(
                rec.wait_for, lambda _m: rec is not None and rec.latest(status) == "offline", 15
            )
            await asyncio.to_thread(rec.wait_for, _latest(rec, f"national/{SITE}/point/tien-du"), 5)
            assert str(rec.latest(f"national/{SITE}/bridge")) == "1"
            point = rec.latest(f"national/{SITE}/point/tien-du")
            assert isinstance(point, dict) and point["name"] == "Huyện Tiên Du"

            # the province broker itself goes away: the bridge's last will on the national side
            province.stop()
            await asyncio.to_thread(
                rec.wait_for,
                lambda _m: rec is not None and str(rec.latest(f"national/{SITE}/bridge")) == "0",
                10,
            )
    finally:
        stop_daemons([daemon])
        if rec is not None:
            rec.close()
        national.stop()


def test_bridge_example_bridges_state_only() -> None:
    """The shipped bridge forwards state out, never commands in, and holds no password."""
    conf = BRIDGE_EXAMPLE.read_text(encoding="utf-8")
    topics = [line.split() for line in conf.splitlines() if line.startswith("topic ")]
    assert topics and all(t[2] == "out" for t in topics)
    assert not [t for t in topics if "cmd" in t[1] or "events" in t[1] or t[1] == "#"]
    assert not re.search(r"^\s*remote_password", conf, re.MULTILINE)


async def test_room_panel_says_when_its_point_is_not_in_the_next_session(
    tmp_path: Path,
    chromium: str,  # noqa: F811
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    """The session payload's roster reaches the room panel of a point left out of it."""
    loaded = load_profile(write_profile(demo_profile_data))
    store = seeded(loaded)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    store.set_session(
        SessionState(
            SessionPhase.IDLE,
            "thang@x",
            "Chủ tịch UBND tỉnh tiếp công dân",
            start,
            points=("trung-tam", "que-vo"),
        )
    )
    async with published(loaded, store, tmp_path / "b") as broker:
        room = ROOT / "panels" / "room.html"
        base = f"{room.as_uri()}?broker=ws://127.0.0.1:{broker.ws_port}&prefix={PREFIX}"
        text = await _page_text(
            chromium, base + "&point=tien-du", lambda t: "Huyện Tiên Du" in t, tmp_path / "c1"
        )
        assert "Điểm cầu không tham gia phiên này" in text
        text = await _page_text(
            chromium, base + "&point=que-vo", lambda t: "Bắt đầu sau" in t, tmp_path / "c2"
        )
        assert "không tham gia" not in text
