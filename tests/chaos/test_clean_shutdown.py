"""`sim up` and `demo` stop cleanly on a signal (issue 16): no snmpsim child left, temp folders
removed, ports free within 5 s; `demo` tears the session down first; busy ports and scenarios
about devices that do not exist are exit 3. No case may exit 4.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.ports import endpoints_in, port_busy
from mcu_control.audit import AuditLog

ROOT = Path(__file__).resolve().parents[2]
SECRET = "community-not-in-a-file-name"


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    return write_profile(remap_ports(demo_data()), tmp_path)


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MCU_CONTROL_DEMO_SECRET": SECRET,
        "MCU_CONTROL_STATE_DIR": str(tmp_path / "state"),
    }


def _start(profile: Path, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "--profile", str(profile), *args],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(proc: subprocess.Popen[str], stream: Any, done: Any, timeout_s: float) -> str:
    """Read `stream` line by line until `done(text)` is true; fail after `timeout_s`."""
    text = ""
    deadline = time.monotonic() + timeout_s
    while not done(text):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            proc.terminate()  # a clean stop: its snmpsim children go too
            out, err = proc.communicate(timeout=30)
            pytest.fail(f"not ready (exit {proc.returncode}): {text}{out}{err}")
        ready, _, _ = select.select([stream], [], [], left)
        if ready:  # the fd, not the buffered file: select cannot see Python's buffer
            text += os.read(stream.fileno(), 65536).decode(errors="replace")
    return text


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _data_dirs(pids: set[int]) -> set[Path]:
    """The --data-dir of every snmpsim among `pids` (where its temp folder is)."""
    dirs = set()
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in argv:
            if arg.startswith(b"--data-dir="):
                dirs.add(Path(arg.split(b"=", 1)[1].decode()))
    return dirs


def _ports(endpoints: list[dict[str, str]]) -> list[tuple[str, str, int]]:
    return [
        ep for row in endpoints if row["address"] != "down" for ep in endpoints_in(row["address"])
    ]


def _stop_and_check(
    proc: subprocess.Popen[str], sig: int, ports: list[tuple[str, str, int]]
) -> str:
    children = _children(proc.pid)
    dirs = _data_dirs(children)
    assert dirs, "the rig should run snmpsim in a temp folder"
    for d in dirs:  # the community is never part of a file name
        assert all(SECRET not in str(p) for p in d.parent.rglob("*"))
    proc.send_signal(sig)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 1, 2), err  # never 4, never killed by the signal
    assert [c for c in children if _alive(c)] == [], "child processes left running"
    assert [d for d in dirs if d.exists()] == [], "temp folders left behind"
    while (busy := [p for p in ports if port_busy(*p)]) and time.monotonic() - t0 < 5:
        time.sleep(0.1)
    assert busy == [], f"ports still in use 5 s after the signal: {busy}"
    return err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_sim_up_stops_every_child_and_frees_ports_on_a_signal(
    profile: Path, tmp_path: Path, sig: int
) -> None:
    proc = _start(profile, tmp_path, "sim", "up", "--json")
    assert proc.stdout is not None
    text = _read_until(proc, proc.stdout, lambda t: t.rstrip().endswith("}"), 60)
    endpoints = json.loads(text)["endpoints"]
    ports = _ports(endpoints)
    assert ports
    _stop_and_check(proc, sig, ports)


def test_snmpsim_children_do_not_outlive_a_killed_rig(profile: Path, tmp_path: Path) -> None:
    """SIGKILL cannot be handled: the snmpsim agents notice their parent is gone and exit."""
    proc = _start(profile, tmp_path, "sim", "up", "--json")
    assert proc.stdout is not None
    text = _read_until(proc, proc.stdout, lambda t: t.rstrip().endswith("}"), 60)
    ports = _ports(json.loads(text)["endpoints"])
    children = _children(proc.pid)
    dirs = _data_dirs(children)
    assert dirs
    proc.kill()
    proc.communicate(timeout=10)
    deadline = time.monotonic() + 5
    while [c for c in children if _alive(c)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [c for c in children if _alive(c)] == []
    assert [d for d in dirs if d.exists()] == []
    assert [p for p in ports if p[0] == "udp" and port_busy(*p)] == []


def test_demo_tears_the_session_down_on_sigterm(profile: Path, tmp_path: Path) -> None:
    proc = _start(profile, tmp_path, "demo", "--no-drill", "--refresh", "0.5")
    assert proc.stderr is not None
    _read_until(proc, proc.stderr, lambda t: "daemon running" in t, 120)
    from hil.rig import Rig
    from profiles import load_profile

    ports = [p[:3] for p in Rig(load_profile(profile)).ports()]
    _stop_and_check(proc, signal.SIGTERM, ports)
    actions = [r["action"] for r in AuditLog(tmp_path / "state" / "audit.jsonl").records()]
    assert "bringup.start" in actions or any(a.startswith("bringup") for a in actions)
    # the session ends with its teardown; only the session record (biên bản) may follow it
    session_ops = [a for a in actions if not a.startswith(("session.", "recording."))]
    assert session_ops[-1] == "teardown.finish", actions


def test_busy_port_is_exit_3_naming_the_port_and_its_holder(profile: Path, tmp_path: Path) -> None:
    from profiles import load_profile

    mcu = load_profile(profile).profile.mcu
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", mcu.port))
        s.listen()
        r = subprocess.run(
            [sys.executable, "-m", "cli", "--profile", str(profile), "sim", "up"],
            cwd=ROOT,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 3, r.stderr
    assert f"127.0.0.1:{mcu.port}" in r.stderr
    assert f"pid {os.getpid()}" in r.stderr


def test_scenario_naming_an_unknown_device_is_exit_3(profile: Path, tmp_path: Path) -> None:
    scen = tmp_path / "busy.yaml"
    scen.write_text(
        "name: busy\ndevices:\n  tien-du.codec: {outcome: busy}\n  khong-co.codec: {down: true}\n"
        "  tien-du.loa: {down: true}\n",
        encoding="utf-8",
    )
    r = subprocess.run(
        [sys.executable, "-m", "cli", "--profile", str(profile), "sim", "up", "-s", str(scen)],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 3, r.stderr
    assert "khong-co.codec" in r.stderr
    assert "tien-du.loa" in r.stderr
    assert "tien-du.codec:" not in r.stderr
