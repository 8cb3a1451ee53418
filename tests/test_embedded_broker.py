"""`mcu-control run` with no broker configured: a loopback-only embedded broker, no commands."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import yaml
from daemon_support import ROOT, daemon_argv, stop_daemons
from mqtt_support import Recorder, free_port
from paho.mqtt.enums import MQTTProtocolVersion

SITE = "bac-ninh-demo"


def _profile(tmp_path: Path, *, commands: bool) -> Path:
    data = yaml.safe_load((ROOT / "profiles/sites/demo.yaml").read_text(encoding="utf-8"))
    data.setdefault("mqtt", {}).pop("url", None)
    if commands:
        data["mqtt"]["commands"] = {"enabled": True, "allow": ["drill"]}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _listeners(port: int) -> list[str]:
    """Local addresses listening on TCP `port`, from /proc/net/tcp and tcp6 (hex, as the kernel)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, _, hexport = local.rpartition(":")
            if state == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
                found.append(addr)
    return found


def _start(tmp_path: Path, profile: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen(
        daemon_argv(profile, tmp_path / "state", "--mqtt-port", str(port), *extra),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={"MCU_CONTROL_DEMO_SECRET": "rig-secret-2026", "PATH": "/usr/bin:/bin"},
    )
    deadline = time.monotonic() + 20
    while not _listeners(port):
        assert proc.poll() is None, (tmp_path / "daemon.log").read_text()
        assert time.monotonic() < deadline, "the embedded broker never listened"
        time.sleep(0.1)
    return proc, port


def test_embedded_broker_listens_on_loopback_only(tmp_path: Path) -> None:
    proc, port = _start(tmp_path, _profile(tmp_path, commands=False))
    try:
        addrs = _listeners(port)
        # 0100007F is 127.0.0.1 in /proc's little-endian hex; nothing on 0.0.0.0 or ::
        assert addrs == ["0100007F"], addrs
    finally:
        stop_daemons([proc])


def test_mqtt_command_on_embedded_broker_is_refused_and_logged(tmp_path: Path) -> None:
    proc, port = _start(tmp_path, _profile(tmp_path, commands=True))
    reply_topic = f"mcu-control/{SITE}/cmd/drill/reply"
    status_topic = f"mcu-control/{SITE}/status"
    rec = Recorder(port, [reply_topic, status_topic], protocol=MQTTProtocolVersion.MQTTv311)
    try:
        # the daemon subscribes to commands once its feed is connected, i.e. once it is online
        rec.wait_for(lambda _m: rec.latest(status_topic) == "online", timeout=30)
        rec.client.publish(
            f"mcu-control/{SITE}/cmd/drill", json.dumps({"id": "r1", "params": {}}), qos=1
        )
        rec.wait_for(lambda msgs: any(t == reply_topic for t, *_ in msgs), timeout=30)
        reply = rec.latest(reply_topic)
        assert isinstance(reply, dict)
        assert reply["ok"] is False
        assert reply["error"]["code"] == "not-allowed"
        assert "authentication" in reply["error"]["message"]
    finally:
        rec.close()
        stop_daemons([proc])
    log = (tmp_path / "daemon.log").read_text()
    assert re.search(r"mqtt.commands.enabled is ignored", log), log
    assert re.search(r"MQTT command 'drill' refused", log), log
    audit = [json.loads(x) for x in (tmp_path / "state/audit.jsonl").read_text().splitlines()]
    refused = [r for r in audit if r["action"] == "mqtt.command.drill"]
    assert refused and refused[0]["data"]["outcome"] == "not-allowed"
    assert not any(r["action"].startswith("drill") for r in audit)  # nothing was run


def test_mqtt_bind_that_is_not_an_address_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        daemon_argv(_profile(tmp_path, commands=False), tmp_path / "s", "--mqtt-bind", "lan"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3, result.stderr
    assert "--mqtt-bind" in result.stderr
