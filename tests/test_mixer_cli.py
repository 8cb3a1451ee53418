"""`mixer` and `codec` commands as cron runs them: a subprocess against simulators, --json."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hil.sim.sip import H323Sim, SipResponder
from hil.sim.snmp_agent import SnmpAgent
from hil.sim.tesira import TesiraSim

ROOT = Path(__file__).resolve().parent.parent
SECRET = "cli-demo-secret"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    profile: Path
    telnet: TesiraSim
    serial: TesiraSim
    env: dict[str, str]


def _profile(data: dict[str, Any], ports: dict[str, int]) -> dict[str, Any]:
    """The demo site cut to four points: telnet, SNMP (live), serial, SNMP (dead)."""
    keep = {"trung-tam", "tx-tu-son", "tien-du", "que-vo"}
    data["points"] = [p for p in data["points"] if p["id"] in keep]
    for p in data["points"]:
        mixer = p["mixer"]
        mixer["timeout_s"] = 1.0
        if p["id"] == "trung-tam":
            mixer["port"] = ports["telnet"]
        elif p["id"] == "tien-du":
            mixer["serial"]["port"] = f"socket://127.0.0.1:{ports['serial']}"
        elif p["id"] == "tx-tu-son":
            mixer["port"] = ports["snmp"]
        else:
            mixer["port"] = ports["dead_snmp"]
        p["codec"]["timeout_s"] = 0.5
        p["codec"]["port"] = ports[f"sip-{p['id']}"]
        if p.get("recorder"):
            p["recorder"]["port"] = ports["recorder"]
    return data


@pytest.fixture
async def site(
    tmp_path: Path, demo_profile_data: dict[str, Any], _no_leftover_tasks: None
) -> AsyncIterator[Site]:
    telnet = TesiraSim(transport="telnet")
    serial = TesiraSim(transport="serial-tcp")
    await telnet.start()
    await serial.start()
    agent = SnmpAgent(endpoints=[("127.0.0.1", free_port(socket.SOCK_DGRAM))], community=SECRET)
    await agent.start()
    sips = {pid: SipResponder() for pid in ("trung-tam", "tx-tu-son", "tien-du")}
    sips["tx-tu-son"].status = 404
    for s in sips.values():
        await s.start()
    recorder = SipResponder(transport="udp")
    await recorder.start()
    ports = {
        "telnet": telnet.port,
        "serial": serial.port,
        "snmp": agent.endpoints[0][1],
        "dead_snmp": free_port(socket.SOCK_DGRAM),
        "recorder": recorder.port,
        "sip-que-vo": free_port(socket.SOCK_DGRAM),  # nobody answers
        **{f"sip-{pid}": s.port for pid, s in sips.items()},
    }
    (tmp_path / "sites").mkdir()
    path = tmp_path / "sites" / "site.yaml"
    data = _profile(demo_profile_data, ports)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    env = {
        **os.environ,
        "MCU_CONTROL_DEMO_SECRET": SECRET,
        "MCU_CONTROL_STATE_DIR": str(tmp_path / "state"),
    }
    try:
        yield Site(path, telnet, serial, env)
    finally:
        for s in [*sips.values(), recorder]:
            await s.stop()
        await agent.stop()
        await telnet.stop()
        await serial.stop()


async def mcu(site: Site, *args: str) -> tuple[int, Any, str, float]:
    """Run the CLI without blocking the simulators' event loop; (exit code, JSON, stderr, seconds)."""
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "--profile",
        str(site.profile),
        *args,
        cwd=ROOT,
        env=site.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    elapsed = time.monotonic() - t0
    assert proc.returncode is not None
    data = json.loads(out) if out.strip().startswith(b"{") else None
    return proc.returncode, data, err.decode(), elapsed


async def test_status_all_reports_live_mixers_and_names_the_dead_one(site: Site) -> None:
    site.telnet.set_mute("MicMute", 1, True)
    code, out, err, elapsed = await mcu(site, "mixer", "status", "--json")
    assert code == 2, err
    rows = {r["point"]: r for r in out["mixers"]}
    assert out["ok"] is False
    for live in ("trung-tam", "tx-tu-son", "tien-du"):
        assert rows[live]["ok"], rows[live]["error"]
        assert rows[live]["health"]["state"] == "ok"
    mics = {c["channel"]: c for c in rows["trung-tam"]["channels"]}
    assert mics["mic-chu-tri"]["muted"] is True
    assert mics["mic-chu-tri"]["label"] == "Micro chủ trì"
    dead = rows["que-vo"]
    assert dead["ok"] is False
    assert dead["error"]["device"] == "que-vo.mixer"
    assert dead["error"]["error"] == "DeviceTimeoutError"
    assert "que-vo.mixer" in dead["error"]["text"]
    # measured inside the command: the dead one costs its 1 s timeout, the others far less
    assert 900 <= dead["elapsed_ms"] < 1600
    assert all(rows[p]["elapsed_ms"] < 900 for p in ("trung-tam", "tx-tu-son", "tien-du"))
    assert SECRET not in json.dumps(out)
    # all mixers are queried concurrently: the dead agent's 1 s timeout, plus interpreter start
    print(
        f"\nmixer status (4 points, one dead, timeout 1 s): {elapsed:.2f} s in all; "
        + ", ".join(f"{p} {r['elapsed_ms']:.0f} ms" for p, r in rows.items())
    )
    assert elapsed < 1.0 + 3.5


async def test_mute_unmute_level_meters_by_point_and_channel(site: Site) -> None:
    code, out, err, _ = await mcu(site, "mixer", "mute", "tien-du", "mic-cong-dan", "--json")
    assert code == 0, err
    assert out == {
        "point": "tien-du",
        "device": "mixer",
        "id": "tien-du.mixer",
        "channel": "mic-cong-dan",
        "muted": True,
    }
    assert site.serial.blocks["MicMute"].mute[1] is True
    code, out, err, _ = await mcu(site, "mixer", "unmute", "tien-du", "mic-cong-dan", "--json")
    assert code == 0 and out["muted"] is False and site.serial.blocks["MicMute"].mute[1] is False

    code, out, err, _ = await mcu(
        site, "mixer", "level", "trung-tam", "loa-phong", "-12.5", "--json"
    )
    assert code == 0, err
    assert out["level_db"] == -12.5 and out["max_db"] == 12.0
    assert site.telnet.blocks["ProgramLevel"].level[0] == -12.5

    code, out, err, _ = await mcu(site, "mixer", "level", "tx-tu-son", "loa-phong", "--json")
    assert code == 0, err
    assert out["level_db"] == -10.0  # snmprec: -100 in tenths of a dB

    code, out, err, _ = await mcu(site, "mixer", "meters", "trung-tam", "--json")
    assert code == 0, err
    assert set(out["meters"]) == {"mic-chu-tri", "mic-cong-dan"}

    audit = (Path(site.env["MCU_CONTROL_STATE_DIR"]) / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["action"] for line in audit] == [
        "mixer.mute.intent",
        "mixer.mute",
        "mixer.mute.intent",
        "mixer.mute",
        "mixer.level.intent",
        "mixer.level",
    ]


async def test_bad_point_or_channel_is_a_usage_error(site: Site) -> None:
    code, out, _, _ = await mcu(site, "mixer", "mute", "nowhere", "mic-chu-tri", "--json")
    assert code == 3 and "trung-tam" in out["message"] + out["hint"]
    code, out, _, _ = await mcu(site, "mixer", "mute", "tien-du", "no-mic", "--json")
    assert code == 3 and "mic-chu-tri" in out["message"] + (out["hint"] or "")


async def test_dead_mixer_command_exits_2_naming_the_device(site: Site) -> None:
    code, out, _, elapsed = await mcu(site, "mixer", "mute", "que-vo", "mic-chu-tri", "--json")
    assert code == 2
    assert out["device"] == "que-vo.mixer" and out["error"] == "DeviceTimeoutError"
    assert elapsed < 1.0 + 3.5  # the 1 s timeout plus interpreter start on a loaded machine


async def test_codec_ping_all_points_and_the_recorder(site: Site) -> None:
    code, out, err, _ = await mcu(site, "codec", "ping", "--json")
    assert code == 2, err
    rows = {r["id"]: r for r in out["codecs"]}
    assert set(rows) == {
        "trung-tam.codec",
        "trung-tam.recorder",
        "tx-tu-son.codec",
        "tien-du.codec",
        "que-vo.codec",
    }
    assert (
        rows["trung-tam.codec"]["reachable"]
        and rows["trung-tam.codec"]["detail"] == "SIP/2.0 200 OK"
    )
    assert rows["tx-tu-son.codec"]["reachable"] and rows["tx-tu-son.codec"]["detail"].startswith(
        "SIP/2.0 404"
    )
    assert rows["trung-tam.recorder"]["reachable"]
    assert isinstance(rows["tien-du.codec"]["rtt_ms"], float)
    assert not rows["que-vo.codec"]["reachable"] and rows["que-vo.codec"]["rtt_ms"] is None
    code, out, err, _ = await mcu(site, "codec", "ping", "tien-du", "--json")
    assert code == 0, err
    assert [r["id"] for r in out["codecs"]] == ["tien-du.codec"]


async def test_codec_ping_h323(site: Site, tmp_path: Path) -> None:
    sim = H323Sim()
    await sim.start()
    try:
        data = yaml.safe_load(site.profile.read_text(encoding="utf-8"))
        codec = data["points"][2]["codec"]
        codec.update({"driver": "h323", "address": "10.0.0.9", "port": sim.port})
        site.profile.write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        code, out, err, _ = await mcu(site, "codec", "ping", data["points"][2]["id"], "--json")
    finally:
        await sim.stop()
    assert code == 0, err
    assert out["codecs"][0]["method"] == "h323-tcp" and out["codecs"][0]["reachable"]
    assert sim.connections == 1
