"""Bring-up progress on a terminal: one bar per point, advanced by each finished step."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from mcu_control.bringup import BringupEvent
from mcu_control.commands import ops


def test_a_bar_per_point_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(ops, "err_console", lambda: terminal)
    with ops._BringupProgress() as on_event:
        assert on_event is not None
        on_event(BringupEvent("tien-du", "start", "running", steps=3))
        on_event(BringupEvent("que-vo", "start", "running", steps=2))
        on_event(BringupEvent("tien-du", "call", "pass", "connected"))
        on_event(BringupEvent("que-vo", "mixer.unmute", "fail", "microphones not unmuted"))
    last = {}
    for line in re.split(r"[\r\n]", screen.getvalue()):
        for point in ("tien-du", "que-vo"):
            if point in line:
                last[point] = line
    assert "1/3" in last["tien-du"] and "call PASS" in last["tien-du"]
    assert "1/2" in last["que-vo"] and "mixer.unmute FAIL" in last["que-vo"]
