"""No secret in DEBUG logs, MQTT payloads, reports, the audit log or exception messages.

A drill, a bring-up and a teardown run on the simulated rig with a distinctive secret behind
every password, community and the MQTT feed's own login; then the same devices are called with a
wrong password (MCU, ONVIF camera, SNMP v2c community, SNMP v3 auth key). Every text those runs
produced is searched for the secrets in raw, base64, URL, XML, JSON and hex form.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from integration.conftest import fast as integration_fast
from leaks import SECRET, WRONG, exception_text, leaks
from mqtt_support import Recorder, mosquitto

from devices.errors import AuthenticationError, DeviceTimeoutError, McuControlError
from devices.secrets import Secret
from drivers.snmp.driver import SnmpMixer
from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from hil.sim.snmp_agent import SnmpAgent
from mcu_control.audit import AuditLog
from mcu_control.bringup import bringup, teardown
from mcu_control.drill import Drill
from mcu_control.mqtt import MqttFeed
from mcu_control.report import render_html
from mcu_control.site import Site
from mcu_control.state import StateStore
from profiles import load_profile

ENV = "MCU_CONTROL_DEMO_SECRET"
MODELS = Path(__file__).resolve().parents[2] / "profiles" / "models"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fast(data: dict[str, Any]) -> dict[str, Any]:
    """The integration suite's short timings, plus a feed that logs in with the secret."""
    data = integration_fast(data)
    data["mqtt"] = {
        "username": "feed",
        "password": {"env": ENV},
        "keepalive_s": 5,
        "reconnect_max_s": 1,
    }
    return data


@pytest.fixture
def every_logger_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Third-party and project loggers alike reach caplog at DEBUG."""
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            monkeypatch.setattr(logger, "propagate", True)
            monkeypatch.setattr(logger, "disabled", False)
            monkeypatch.setattr(logger, "level", logging.NOTSET)


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    records = "\n".join(repr(r.__dict__) for r in caplog.records)
    return caplog.text + "\n" + records


@pytest.mark.usefixtures("every_logger_propagates")
async def test_no_secret_anywhere_after_drill_bringup_and_wrong_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    loaded = load_profile(write_profile(fast(remap_ports(demo_data())), tmp_path))
    scenario = load_scenario("normal")
    scenario = scenario.model_copy(
        update={
            "defaults": scenario.defaults.model_copy(
                update={"dial_latency_s": 0.15, "move_time_s": 0.15}
            )
        }
    )
    texts: dict[str, str] = {}
    errors: list[BaseException] = []
    audit_path = tmp_path / "audit.jsonl"
    with mosquitto(tmp_path / "broker", password={"feed": SECRET, "spy": "spy-pw"}) as broker:
        rig = Rig(loaded, scenario)
        await rig.start()
        store = StateStore()
        store.seed(loaded.profile)
        site = Site(loaded, store=store, audit=AuditLog(audit_path), actor="test")
        feed = MqttFeed(loaded, store, url=broker.url())
        spy = Recorder(broker.port, ["#"], username="spy", password="spy-pw")
        try:
            await feed.start()
            async with asyncio.timeout(10):
                await feed.wait_connected()
            drill = await Drill(site, quick=True).run()
            up = await bringup(site)
            down = await teardown(site)
            names = {p.id: p.name for p in loaded.profile.points}
            texts["drill json"] = json.dumps(drill.to_dict(), ensure_ascii=False, default=str)
            texts["drill html"] = render_html(drill, point_names=names)
            texts["bring-up json"] = json.dumps(up.to_dict(), ensure_ascii=False, default=str)
            texts["teardown json"] = json.dumps(down, ensure_ascii=False, default=str)
            await asyncio.to_thread(
                spy.wait_for, lambda m: any(t.endswith("/drill") or "/drill/" in t for t, *_ in m)
            )
            await asyncio.sleep(0.3)  # the last state changes reach the broker
            texts["mqtt"] = "\n".join(
                f"{t} {p.decode('utf-8', 'replace')} {props}" for t, p, _r, props in spy.messages
            )
            assert len(spy.messages) > 20, "the feed published too little to be a real test"

            # the same devices, called with a wrong password
            monkeypatch.setenv(ENV, WRONG)
            wrong = Site(loaded, actor="test")
            central = loaded.profile.central
            onvif_point, onvif_cam = next(
                (p, c) for p in loaded.profile.points for c in p.cameras if c.driver == "onvif"
            )
            snmp_point = next(
                p for p in loaded.profile.points if p.mixer and p.mixer.driver == "snmp"
            )
            try:
                with pytest.raises(AuthenticationError) as mcu_err:
                    await (await wrong.mcu()).info()
                errors.append(mcu_err.value)
                with pytest.raises(AuthenticationError) as cam_err:
                    await (await wrong.camera(onvif_point, onvif_cam)).identify()
                errors.append(cam_err.value)
                with pytest.raises(
                    DeviceTimeoutError
                ) as snmp_err:  # v2c: a wrong community is ignored
                    await (await wrong.mixer(snmp_point)).get_mute("mic-chu-tri")
                errors.append(snmp_err.value)
            finally:
                await wrong.close()
            assert central.mcu is not None
        finally:
            spy.close()
            await feed.stop()
            await site.close()
            await rig.stop()
    errors.append(await _snmp_v3_wrong_auth_key())
    texts["audit log"] = audit_path.read_text(encoding="utf-8")
    assert texts["audit log"].count("\n") >= 2, "the runs should have been audited"
    texts["logs"] = _log_text(caplog)
    assert len(caplog.records) > 100, "DEBUG logging did not reach the test"
    for i, exc in enumerate(errors):
        texts[f"error {i} {type(exc).__name__}"] = exception_text(exc)

    found = {where: hits for where, text in texts.items() if (hits := leaks(text, SECRET, WRONG))}
    assert found == {}


async def _snmp_v3_wrong_auth_key() -> McuControlError:
    """An SNMP v3 agent keyed with SECRET, asked with WRONG: an authentication error, no key."""
    agent = SnmpAgent(
        endpoints=[("127.0.0.1", free_udp_port())],
        community="unused-community",
        v3_user="mcuctl",
        auth_key=SECRET,
        priv_key=SECRET[::-1],
    )
    await agent.start()
    host, port = agent.endpoints[0]
    mixer = SnmpMixer(
        "sec.v3",
        host=host,
        port=port,
        version="3",
        user="mcuctl",
        auth_key=Secret(WRONG),
        priv_key=Secret(WRONG[::-1]),
        auth_protocol="SHA",
        priv_protocol="AES",
        context=agent.context,
        channels={"mic1": 1},
        oids=yaml.safe_load((MODELS / "qsc-qsys-core-110f.yaml").read_text(encoding="utf-8"))[
            "snmp"
        ],
        timeout_s=1.0,
    )
    try:
        with pytest.raises(AuthenticationError) as info:
            await mixer.get_mute("mic1")
    finally:
        await mixer.close()
        await agent.stop()
    return info.value
