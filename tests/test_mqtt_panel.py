"""The reference room panel in headless Chromium, fed by mosquitto's WebSocket listener.

Each test opens the panel (a copy of `panels/` with a `room.config.js`, as a technician
installs it), waits over the DevTools protocol until the page text shows the state, checks
the text, and saves a screenshot of exactly that page as a test artifact:
`artifacts/panel/<state>.png` under the repository (ignored by git; `MCU_CONTROL_ARTIFACTS`
moves it). `--dump-dom` would fire before a WebSocket message can arrive (virtual time does
not wait for WebSockets), hence the DevTools session.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from mqtt_support import Mosquitto, free_port, mosquitto

from devices.health import HealthState
from mcu_control.daemon import Daemon, DaemonConfig
from mcu_control.mqtt import MqttFeed
from mcu_control.state import PointPhase, SessionPhase, SessionState, StateStore
from profiles.loader import LoadedProfile, load_profile

ROOT = Path(__file__).resolve().parent.parent
PANELS = ROOT / "panels"
ARTIFACTS = Path(os.environ.get("MCU_CONTROL_ARTIFACTS", ROOT / "artifacts")) / "panel"
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
    "--window-size=1280,720",
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


class Page:
    """One headless Chromium page driven over the DevTools protocol."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._seq = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._seq += 1
        await self._ws.send(json.dumps({"id": self._seq, "method": method, "params": params}))
        while True:
            reply: dict[str, Any] = json.loads(await self._ws.recv())
            if reply.get("id") == self._seq:
                result: dict[str, Any] = reply.get("result", {})
                return result

    async def text_when(self, want: Callable[[str], bool], timeout: float = 20) -> str:
        """document.body.innerText once `want` holds (AssertionError with the text if never)."""
        text = ""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = await self.call(
                        "Runtime.evaluate", expression="document.body.innerText"
                    )
                    text = str(result.get("result", {}).get("value", ""))
                    if want(text):
                        return text
                    await asyncio.sleep(0.2)
        except TimeoutError:
            raise AssertionError(f"the panel never showed the state; page text: {text!r}") from None

    async def screenshot(self, name: str) -> Path:
        """Save a PNG of the page as it is now under ARTIFACTS; returns its path."""
        data = await self.call("Page.captureScreenshot", format="png")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(data["data"]))
        return path


async def _page_text(
    chromium: str, url: str, want: Callable[[str], bool], profile_dir: Path
) -> str:
    """Open `url` in headless Chromium; document.body.innerText once `want` holds."""
    async with open_page(chromium, url, profile_dir) as page:
        return await page.text_when(want, timeout=30)


@contextlib.asynccontextmanager
async def open_page(chromium: str, url: str, profile_dir: Path) -> AsyncIterator[Page]:
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
            yield Page(ws)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


def install_panel(dest: Path, **config: str) -> str:
    """Copy panels/ to `dest` with a room.config.js holding `config`; the page's file URL."""
    shutil.copytree(PANELS, dest)
    (dest / "room.config.js").write_text(
        f"window.MCU_PANEL = {json.dumps(config, ensure_ascii=False)};\n", encoding="utf-8"
    )
    return (dest / "room.html").as_uri()


def panel_config(broker: Mosquitto, point: str = "tien-du") -> dict[str, str]:
    return {"broker": f"ws://127.0.0.1:{broker.ws_port}", "prefix": PREFIX, "point": point}


@pytest.fixture
def loaded(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> LoadedProfile:
    return load_profile(write_profile(demo_profile_data))


def seeded(loaded: LoadedProfile) -> StateStore:
    store = StateStore()
    store.seed(loaded.profile)
    return store


@contextlib.asynccontextmanager
async def published(
    loaded: LoadedProfile, store: StateStore, workdir: Path
) -> AsyncIterator[Mosquitto]:
    """A mosquitto with a WebSocket listener, the feed publishing `store` on it (connected)."""
    with mosquitto(workdir, ws_port=free_port()) as broker:
        feed = MqttFeed(loaded, store, url=broker.url())
        await feed.start()
        try:
            async with asyncio.timeout(5):
                await feed.wait_connected()
            yield broker
        finally:
            await feed.stop()


async def test_panel_online_in_session(
    tmp_path: Path, chromium: str, loaded: LoadedProfile
) -> None:
    store = seeded(loaded)
    store.update_point("tien-du", phase=PointPhase.IN_SESSION)
    store.set_session(
        SessionState(
            SessionPhase.BRINGUP,
            "bi-thu",
            "Bí thư Tỉnh ủy tiếp công dân định kỳ",
            starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15),
            recording=True,
        )
    )
    with mosquitto(tmp_path / "b", ws_port=free_port()) as broker:
        feed = MqttFeed(loaded, store, url=broker.url())
        await feed.start()
        try:
            url = install_panel(tmp_path / "panel", **panel_config(broker))
            async with open_page(chromium, url, tmp_path / "c") as page:
                text = await page.text_when(lambda t: "Đang họp" in t)
                assert "Huyện Tiên Du" in text
                assert "Đang ghi hình" in text
                assert "Bắt đầu sau 00:1" in text  # 15 minutes minus a few seconds
                assert "Đã kết nối máy chủ" in text
                shot = await page.screenshot("online")
            assert shot.stat().st_size > 5000
        finally:
            await feed.stop()


async def test_panel_degraded_shows_the_room_message(
    tmp_path: Path, chromium: str, loaded: LoadedProfile
) -> None:
    store = seeded(loaded)
    store.update_device(
        "tien-du.mixer",
        health=HealthState.DOWN,
        reason="tien-du.mixer: GET 1.3.6.1.2.1.1.1.0: no answer from 127.0.0.1:22020 within 2 s",
        error_kind="timeout",
    )
    store.update_point("tien-du", phase=PointPhase.DEGRADED, reason="technician text")
    with mosquitto(tmp_path / "b", ws_port=free_port()) as broker:
        feed = MqttFeed(loaded, store, url=broker.url())
        await feed.start()
        try:
            url = install_panel(tmp_path / "panel", **panel_config(broker))
            async with open_page(chromium, url, tmp_path / "c") as page:
                text = await page.text_when(lambda t: "Suy giảm" in t)
                assert "Bộ xử lý âm thanh không phản hồi" in text
                assert "127.0.0.1" not in text
                assert "no answer" not in text
                await page.screenshot("degraded")
        finally:
            await feed.stop()


async def test_panel_offline_control_system_then_broker(
    tmp_path: Path, chromium: str, loaded: LoadedProfile
) -> None:
    store = seeded(loaded)
    store.update_point("tien-du", phase=PointPhase.READY)
    with mosquitto(tmp_path / "b", ws_port=free_port()) as broker:
        feed = MqttFeed(loaded, store, url=broker.url())
        await feed.start()
        url = install_panel(tmp_path / "panel", **panel_config(broker))
        async with open_page(chromium, url, tmp_path / "c") as page:
            await page.text_when(lambda t: "Sẵn sàng" in t)
            await feed.stop()  # the daemon stops: its status topic says offline
            text = await page.text_when(lambda t: "Hệ thống điều khiển không hoạt động" in t)
            assert "Sẵn sàng" not in text  # never the stale state
            await page.screenshot("offline")

            broker.stop()  # now the broker itself is gone
            text = await page.text_when(lambda t: "Không kết nối được máy chủ" in t)
            assert "Hệ thống điều khiển" not in text
            await page.screenshot("broker-unreachable")


async def test_panel_login_refused_and_no_credentials_in_the_address(
    tmp_path: Path, chromium: str
) -> None:
    with mosquitto(
        tmp_path / "b", ws_port=free_port(), password={"panel": "right-password"}
    ) as broker:
        url = install_panel(
            tmp_path / "panel", **panel_config(broker), username="panel", password="wrong"
        )
        async with open_page(chromium, url, tmp_path / "c") as page:
            text = await page.text_when(lambda t: "Máy chủ từ chối đăng nhập" in t)
            assert "báo kỹ thuật viên" in text
            assert "Không kết nối được máy chủ" not in text  # refused, not unreachable
            await page.screenshot("login-refused")

        leaked = f"{url}?password=right-password"
        async with open_page(chromium, leaked, tmp_path / "c2") as page:
            text = await page.text_when(lambda t: "Chưa cấu hình" in t)
            assert "room.config.js" in text
            location = await page.call("Runtime.evaluate", expression="location.href")
            assert "password" not in location["result"]["value"]


class FeedComponent:
    """The MQTT feed as a daemon component (what app.build_daemon wires, without devices)."""

    name = "mqtt-feed"
    active_only = True

    def __init__(self, feed: MqttFeed) -> None:
        self.feed = feed

    async def start(self) -> None:
        await self.feed.start()

    async def stop(self) -> None:
        await self.feed.stop()


async def test_panel_counts_down_from_the_calendar_as_soon_as_the_daemon_runs(
    tmp_path: Path,
    chromium: str,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    vn = dt.timezone(dt.timedelta(hours=7))
    day = (dt.datetime.now(vn) + dt.timedelta(days=12)).date()
    demo_profile_data["sessions"]["rules"] = []
    demo_profile_data["sessions"]["one_off"] = [
        {"id": "phien", "title": "Phiên tiếp công dân", "date": day.isoformat(),
         "start": "08:00:00", "duration": "2h"}
    ]  # fmt: skip
    loaded = load_profile(write_profile(demo_profile_data))
    store = seeded(loaded)
    with mosquitto(tmp_path / "b", ws_port=free_port()) as broker:
        feed = MqttFeed(loaded, store, url=broker.url())
        daemon = Daemon(
            loaded,
            state_dir=tmp_path / "state",
            store=store,
            components=[FeedComponent(feed)],
            config=DaemonConfig(leader_poll_s=0.05),
        )
        task = asyncio.create_task(daemon.run(install_signals=False))
        try:
            url = install_panel(tmp_path / "panel", **panel_config(broker))
            async with open_page(chromium, url, tmp_path / "c") as page:
                text = await page.text_when(lambda t: "Bắt đầu sau" in t)
                left = dt.datetime.combine(day, dt.time(8), vn) - dt.datetime.now(vn)
                assert f"Bắt đầu sau {left.days} ngày" in text
                assert "Phiên tiếp công dân" in text
                await page.screenshot("countdown")
        finally:
            daemon.request_stop()
            await task
