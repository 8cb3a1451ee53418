"""The reference room panel in headless Chromium, fed by mosquitto's WebSocket listener.

`--dump-dom` fires before a WebSocket message can arrive (virtual time does not wait for
WebSockets), so the DOM is read over the DevTools protocol, polling until the state shows;
the screenshot uses the plain `--screenshot` flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from mqtt_support import free_port, mosquitto

from mcu_control.mqtt import MqttFeed
from mcu_control.state import PointPhase, SessionPhase, SessionState, StateStore
from profiles.loader import load_profile

ROOT = Path(__file__).resolve().parent.parent
PANEL = ROOT / "panels" / "room.html"
PREFIX = "mcu-control/bac-ninh-demo"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    """The chromium binary; installed through scripts/system-deps.sh when missing."""
    found = shutil.which("chromium")
    if found is None:
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "system-deps.sh"), "chromium"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        found = shutil.which("chromium")
        if found is None:
            pytest.skip(f"chromium could not be installed by apt: {result.stderr[-300:]}")
    return found


async def _page_text(
    chromium: str, url: str, want: Callable[[str], bool], profile_dir: Path
) -> str:
    """Open `url` in headless Chromium and return document.body.innerText once `want` holds."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile_dir}",
        f"--remote-debugging-port={port}",
        "--remote-allow-origins=*",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,  # its helper processes share our kill below
    )
    text = ""
    try:
        async with asyncio.timeout(30), httpx.AsyncClient() as http:
            target: dict[str, Any] | None = None
            while target is None:
                try:
                    pages = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
                    target = next((p for p in pages if p.get("type") == "page"), None)
                except httpx.HTTPError:
                    pass
                if target is None:
                    await asyncio.sleep(0.2)
            async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
                seq = 0
                while not want(text):
                    seq += 1
                    await ws.send(
                        json.dumps(
                            {
                                "id": seq,
                                "method": "Runtime.evaluate",
                                "params": {"expression": "document.body.innerText"},
                            }
                        )
                    )
                    while True:
                        reply = json.loads(await ws.recv())
                        if reply.get("id") == seq:
                            break
                    text = reply["result"]["result"].get("value", "")
                    if not want(text):
                        await asyncio.sleep(0.2)
                return text
    except TimeoutError:
        raise AssertionError(f"the panel never showed the state; page text: {text!r}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


async def test_room_panel_shows_point_state(
    tmp_path: Path,
    chromium: str,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    loaded = load_profile(write_profile(demo_profile_data))
    store = StateStore()
    store.seed(loaded.profile)
    now = dt.datetime.now(dt.UTC)
    store.update_point("tien-du", phase=PointPhase.IN_SESSION)
    store.set_session(
        SessionState(
            SessionPhase.BRINGUP,
            "bi-thu",
            "Bí thư Tỉnh ủy tiếp công dân định kỳ",
            starts_at=now + dt.timedelta(minutes=15),
            recording=True,
        )
    )
    with mosquitto(tmp_path / "b", ws_port=free_port()) as broker:
        feed = MqttFeed(loaded, store, url=broker.url())
        await feed.start()
        try:
            async with asyncio.timeout(5):
                await feed.wait_connected()
            url = (
                f"{PANEL.as_uri()}?broker=ws://127.0.0.1:{broker.ws_port}"
                f"&prefix={PREFIX}&point=tien-du"
            )
            text = await _page_text(chromium, url, lambda t: "Đang họp" in t, tmp_path / "c1")
            assert "Huyện Tiên Du" in text
            assert "Đang ghi hình" in text
            assert "Bắt đầu sau 00:1" in text  # 15 minutes minus a few seconds

            store.update_point("tien-du", phase=PointPhase.DEGRADED, reason="Mất gói 4%")
            text = await _page_text(chromium, url, lambda t: "Suy giảm" in t, tmp_path / "c2")
            assert "Mất gói 4%" in text

            shot = tmp_path / "panel.png"
            await asyncio.to_thread(
                subprocess.run,
                [
                    chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={tmp_path / 'c3'}",
                    "--window-size=1280,720",
                    "--virtual-time-budget=3000",
                    f"--screenshot={shot}",
                    url,
                ],
                capture_output=True,
                timeout=60,
            )
            assert shot.exists()
            assert shot.stat().st_size > 5000
            shutil.copy(shot, tempfile.gettempdir() + "/mcu-control-panel.png")
        finally:
            await feed.stop()
