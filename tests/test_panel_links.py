"""The session's links on the panels (issue 18): the national link on the room panels of a
national session, the cascade links on the central room's panel only, and on the national
page whether each province's next session joins the national office. Headless Chromium, the
feed's retained payloads on a real mosquitto."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import paho.mqtt.publish as publish
from test_mqtt_panel import _page_text, chromium, loaded, open_page, published, seeded  # noqa: F401

from mcu_control.mqtt.payloads import session_payload
from mcu_control.state import LinkPhase, SessionLink, SessionPhase, SessionState
from profiles.loader import LoadedProfile
from profiles.naming import UPSTREAM_PARTICIPANT, cascade_name

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "mcu-control/bac-ninh-demo"
UPSTREAM_ROW = "Kết nối Trụ sở Tiếp công dân Trung ương"
WHY = "Trụ sở Trung ương không trả lời cuộc gọi (hết 60 giây)"


async def test_room_panels_show_the_national_link_and_the_centre_its_cascades(
    tmp_path: Path,
    chromium: str,  # noqa: F811
    loaded: LoadedProfile,  # noqa: F811
) -> None:
    store = seeded(loaded)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    links = (
        SessionLink(
            UPSTREAM_PARTICIPANT,
            "upstream",
            "Trụ sở Tiếp công dân Trung ương",
            LinkPhase.FAILED,
            reason=WHY,
        ),
        SessionLink(
            cascade_name("mcu-2"), "cascade", "MCU Kinh Bắc", LinkPhase.CONNECTED, mcu="mcu-2"
        ),
    )
    roster = ("trung-tam", "tien-du")
    national = SessionState(
        SessionPhase.IDLE, "tq@x", "Phiên toàn quốc", start, points=roster, national=True
    )
    store.set_session(replace(national, links=links))
    async with published(loaded, store, tmp_path / "b") as broker:
        room = ROOT / "panels" / "room.html"
        base = f"{room.as_uri()}?broker=ws://127.0.0.1:{broker.ws_port}&prefix={PREFIX}"
        async with open_page(chromium, base + "&point=trung-tam", tmp_path / "c1") as page:
            text = await page.text_when(lambda t: "Liên kết" in t, timeout=30)
            await page.screenshot("national-link-failed")  # artifacts/panel/
        assert f"{UPSTREAM_ROW}: Kết nối thất bại — {WHY}" in text
        assert "Liên kết MCU Kinh Bắc: Đã kết nối" in text
        text = await _page_text(
            chromium, base + "&point=tien-du", lambda t: UPSTREAM_ROW in t, tmp_path / "c2"
        )
        assert "Kết nối thất bại" in text and WHY in text
        assert "Liên kết" not in text  # cascades are the central room's business

        # the same session, not national, now connected between MCUs: no national row
        store.set_session(replace(national, national=False, links=links[1:]))
        text = await _page_text(
            chromium, base + "&point=trung-tam", lambda t: "Liên kết" in t, tmp_path / "c3"
        )
        assert UPSTREAM_ROW not in text


async def test_national_page_says_which_provinces_join_and_the_link_phase(
    tmp_path: Path,
    chromium: str,  # noqa: F811
    loaded: LoadedProfile,  # noqa: F811
) -> None:
    """Two provinces under one prefix: a national session whose link failed, a local one."""
    store = seeded(loaded)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    up = SessionLink(UPSTREAM_PARTICIPANT, "upstream", "Trụ sở", LinkPhase.FAILED, reason=WHY)
    store.set_session(
        SessionState(
            SessionPhase.BRINGUP, "tq@x", "Phiên toàn quốc", start, national=True, links=(up,)
        )
    )
    async with published(loaded, store, tmp_path / "b") as broker:
        local = SessionState(SessionPhase.IDLE, "thang@y", "Phiên tháng", start)
        payload = session_payload("nghe-an", local, start, site_name="Tỉnh Nghệ An")
        publish.single(
            "mcu-control/nghe-an/session",
            json.dumps(payload, ensure_ascii=False),
            qos=1,
            retain=True,
            hostname="127.0.0.1",
            port=broker.port,
        )
        page = ROOT / "panels" / "national.html"
        url = f"{page.as_uri()}?broker=ws://127.0.0.1:{broker.ws_port}&prefix=mcu-control"
        text = await _page_text(
            chromium,
            url,
            lambda t: "Tỉnh Nghệ An" in t and "Kết nối thất bại" in t,
            tmp_path / "c",
        )
        bac_ninh, nghe_an = text.split("Tỉnh Nghệ An")
        assert f"{UPSTREAM_ROW}: Kết nối thất bại — {WHY}" in bac_ninh
        assert "không kết nối Trụ sở Tiếp công dân Trung ương" in nghe_an
