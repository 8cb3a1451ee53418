"""sd_notify datagrams reach a path socket and an abstract-namespace socket; no socket is a no-op."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from mcu_control.sdnotify import Notifier, watchdog_interval


def test_path_and_abstract_sockets(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as srv:
        srv.bind(str(path))
        assert Notifier(str(path)).notify("READY=1")
        assert srv.recv(100) == b"READY=1"
    name = f"mcu-control-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as srv:
        srv.bind("\0" + name)
        assert Notifier("@" + name).notify("WATCHDOG=1")
        assert srv.recv(100) == b"WATCHDOG=1"


def test_without_systemd_nothing_happens(tmp_path: Path) -> None:
    assert not Notifier("").enabled
    assert Notifier("").notify("READY=1") is False
    assert Notifier(str(tmp_path / "absent.sock")).notify("READY=1") is False


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    monkeypatch.delenv("WATCHDOG_PID")
    assert watchdog_interval() is None
