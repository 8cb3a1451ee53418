"""Every MQTT command example in docs/mqtt.md works as written (issue 17).

The examples are parsed out of the document (fenced blocks tagged `json mqtt-example
<action>`), published to a real mosquitto, and answered by a daemon on the simulated rig;
each reply must be `ok: true` and its result must match the action's documented schema.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from daemon_support import until_active_online
from mqtt_support import Recorder, mosquitto

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.rig import Rig
from hil.scenario import load_scenario
from mcu_control.app import FeedOptions, build_daemon
from mcu_control.mqtt.actions import schema_files
from profiles import load_profile

from .conftest import fast

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "mqtt.md"
SCHEMAS = ROOT / "docs" / "schemas"
EXAMPLE = re.compile(r"^```json mqtt-example ([a-z-]+)\n(.*?)\n```$", re.M | re.S)
ACTIONS = ["drill", "bringup", "teardown", "camera-preset", "mixer-mute"]


def documented_examples() -> list[tuple[str, dict[str, Any]]]:
    return [(m[1], json.loads(m[2])) for m in EXAMPLE.finditer(DOC.read_text(encoding="utf-8"))]


def test_every_action_has_a_documented_example_and_current_schemas() -> None:
    assert sorted({a for a, _ in documented_examples()}) == sorted(ACTIONS)
    for name, schema in schema_files().items():  # `python tools/gen_mqtt_schemas.py`
        on_disk = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
        assert on_disk == schema, f"{name} is stale: run python tools/gen_mqtt_schemas.py"
    for action, example in documented_examples():
        params_schema = json.loads((SCHEMAS / f"mqtt-cmd-{action}-params.schema.json").read_text())
        jsonschema.validate(example.get("params", {}), params_schema)


async def test_documented_examples_succeed_against_a_daemon_on_the_rig(tmp_path: Path) -> None:
    data = fast(remap_ports(demo_data()))
    with mosquitto(tmp_path / "broker") as broker:
        data["mqtt"] = {
            "url": broker.url(),
            "commands": {"enabled": True, "allow": ACTIONS, "timeout_s": 60},
        }
        loaded = load_profile(write_profile(data, tmp_path))
        scenario = load_scenario("normal")
        scenario = scenario.model_copy(
            update={
                "defaults": scenario.defaults.model_copy(
                    update={"dial_latency_s": 0.15, "move_time_s": 0.15}
                )
            }
        )
        rig = Rig(loaded, scenario)
        await rig.start()
        daemon = build_daemon(
            loaded, state_dir=tmp_path / "state", feed=FeedOptions(), supervise_interval_s=5.0
        )
        task = asyncio.create_task(daemon.run(install_signals=False))
        prefix = f"mcu-control/{loaded.profile.site.id}"
        rec = Recorder(broker.port, [f"{prefix}/cmd/+/reply", f"{prefix}/status"])
        try:
            await until_active_online(daemon, rec, prefix)
            for action, example in documented_examples():
                rec.client.publish(f"{prefix}/cmd/{action}", json.dumps(example), qos=1)
                reply = await asyncio.to_thread(rec.reply, example["id"])
                assert reply["ok"] is True, (action, reply)
                result_schema = json.loads(
                    (SCHEMAS / f"mqtt-cmd-{action}-result.schema.json").read_text()
                )
                jsonschema.validate(reply["result"], result_schema)
        finally:
            rec.close()
            daemon.request_stop()
            await task
            await rig.stop()
