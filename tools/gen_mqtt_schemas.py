"""Rewrite docs/schemas/mqtt-cmd-<action>-{params,result}.schema.json from the command models.

Run after changing mcu_control/mqtt/actions.py: `python tools/gen_mqtt_schemas.py`.
tests/integration/test_mqtt_command_examples.py fails while the files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcu_control.mqtt.actions import schema_files  # noqa: E402


def main() -> None:
    target = ROOT / "docs" / "schemas"
    for name, body in schema_files().items():
        (target / name).write_text(
            json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        sys.stdout.write(f"{target / name}\n")


if __name__ == "__main__":
    main()
