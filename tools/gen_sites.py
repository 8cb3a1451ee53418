"""Regenerate profiles/sites/bac-ninh.yaml and demo.yaml from one table of points.

The two shipped profiles must describe the same 9-point site; generating both from one
table keeps them in step. Run: python tools/gen_sites.py
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# id, name, camera drivers, mixer driver
POINTS: list[tuple[str, str, list[str], str]] = [
    ("trung-tam", "Trụ sở Tiếp công dân tỉnh Bắc Ninh", ["onvif", "onvif"], "tesira-telnet"),
    ("tp-bac-ninh", "TP Bắc Ninh", ["onvif", "visca-ip"], "tesira-telnet"),
    ("tx-tu-son", "TX Từ Sơn", ["visca-ip", "visca-ip"], "snmp"),
    ("tien-du", "Huyện Tiên Du", ["visca-serial"], "tesira-serial"),
    ("yen-phong", "Huyện Yên Phong", ["onvif"], "tesira-telnet"),
    ("que-vo", "TX Quế Võ", ["visca-serial", "onvif"], "snmp"),
    ("thuan-thanh", "TX Thuận Thành", ["visca-ip"], "tesira-serial"),
    ("gia-binh", "Huyện Gia Bình", ["onvif"], "tesira-telnet"),
    ("luong-tai", "Huyện Lương Tài", ["visca-serial"], "tesira-serial"),
]

PRESETS_ONVIF = {
    "chủ trì": "preset-chu-tri",
    "công dân": "preset-cong-dan",
    "toàn cảnh": "preset-toan-canh",
}
PRESETS_VISCA = {"chủ trì": "1", "công dân": "2", "toàn cảnh": "3"}
CAMERA_MODEL = {
    "onvif": "onvif-generic-ptz",
    "visca-ip": "ptzoptics-20x",
    "visca-serial": "sony-srg-300h",
}
MIXER_MODEL = {
    "tesira-telnet": "biamp-tesira-forte",
    "tesira-serial": "biamp-tesira-forte",
    "snmp": "qsc-qsys-core-110f",
}


def channels(driver: str) -> dict[str, Any]:
    if driver == "snmp":
        return {
            "mic-chu-tri": {"label": "Micro chủ trì", "index": 1},
            "mic-cong-dan": {"label": "Micro công dân", "index": 2},
            "loa-phong": {"label": "Loa phòng", "index": 3, "role": "output"},
        }
    return {
        "mic-chu-tri": {"label": "Micro chủ trì", "block": "MicMute", "index": 1},
        "mic-cong-dan": {"label": "Micro công dân", "block": "MicMute", "index": 2},
        "loa-phong": {"label": "Loa phòng", "block": "ProgramLevel", "index": 1, "role": "output"},
    }


def build(demo: bool) -> dict[str, Any]:
    secret = {"env": "MCU_CONTROL_DEMO_SECRET"} if demo else None
    points = []
    for i, (pid, name, cams, mixer_driver) in enumerate(POINTS):

        def host(last: int, i: int = i) -> str:
            return "127.0.0.1" if demo else f"10.27.{i}.{last}"

        codec: dict[str, Any] = {
            "id": "codec",
            "name": "Thiết bị hội nghị",
            "driver": "sip",
            "address": f"sip:{pid}@{host(10)}" + (f":{15100 + i}" if demo else ""),
            "host": host(10),
            "bitrate_kbps": 4096,
        }
        if demo:
            codec["port"] = 15100 + i
        else:
            codec["alternates"] = [{"protocol": "h323", "address": f"{host(10)}"}]
        cameras = []
        for c, driver in enumerate(cams):
            cam: dict[str, Any] = {
                "id": f"cam{c + 1}",
                "name": "Camera chủ tọa" if c == 0 else "Camera công dân",
                "driver": driver,
                "model": CAMERA_MODEL[driver],
            }
            if driver == "onvif":
                cam.update(
                    host=host(21 + c),
                    username="mcuctl",
                    password=secret or {"env": f"CAM_{pid.upper().replace('-', '_')}_PASSWORD"},
                )
                if demo:
                    cam["port"] = 18100 + i * 10 + c
                cam["presets"] = dict(PRESETS_ONVIF)
            elif driver == "visca-ip":
                cam["host"] = host(21 + c)
                if demo:
                    cam["port"] = 52400 + i * 10 + c
                cam["presets"] = dict(PRESETS_VISCA)
            else:
                port = f"socket://127.0.0.1:{17100 + i * 10 + c}" if demo else f"/dev/ttyUSB{c}"
                cam["serial"] = {"port": port, "baudrate": 9600}
                cam["visca_address"] = 1
                cam["presets"] = dict(PRESETS_VISCA)
            cam["session_preset"] = "chủ trì" if c == 0 else "công dân"
            if len(cams) == 1:
                cam["session_preset"] = "toàn cảnh"
            cameras.append(cam)
        mixer: dict[str, Any] = {
            "id": "mixer",
            "name": "Bộ xử lý âm thanh",
            "driver": mixer_driver,
            "model": MIXER_MODEL[mixer_driver],
        }
        if mixer_driver == "tesira-serial":
            port = f"socket://127.0.0.1:{17200 + i}" if demo else "/dev/ttyS0"
            mixer["serial"] = {"port": port, "baudrate": 115200}
        else:
            mixer["host"] = host(30)
            if demo:
                mixer["port"] = (12300 + i) if mixer_driver == "tesira-telnet" else (16100 + i)
        if mixer_driver == "snmp":
            mixer["snmp"] = {"version": "2c", "community": secret or {"env": "SNMP_COMMUNITY"}}
        mixer["channels"] = channels(mixer_driver)
        mixer["session_channels"] = ["mic-chu-tri", "mic-cong-dan"]
        point: dict[str, Any] = {
            "id": pid,
            "name": name,
            "role": "central" if i == 0 else "component",
            "link": {"bandwidth_mbps": 50, "provider": "VNPT" if i % 2 == 0 else "Viettel"},
            "codec": codec,
            "cameras": cameras,
            "mixer": mixer,
        }
        if i == 0:
            point["mcu"] = {
                "id": "mcu",
                "name": "MCU tỉnh",
                "driver": "codian-xmlrpc",
                "model": "cisco-mcu-5320",
                "host": host(5),
                "tls": not demo,
                "username": "admin",
                "password": secret or {"env": "MCU_PASSWORD"},
                "timeout_s": 5.0,
                "conference": {
                    "name": "TCD-BacNinh",
                    "numeric_id": "8100",
                    "duration_min": 0,
                },
            }
            if demo:
                point["mcu"]["port"] = 18080
            else:
                point["mcu"]["ca_file"] = "/etc/mcu-control/ca/mcu.pem"
            point["recorder"] = {
                "id": "recorder",
                "name": "Máy ghi hình trung tâm",
                "protocol": "sip",
                "address": f"sip:ghihinh@{host(40)}" + (":15070" if demo else ""),
                "host": host(40),
                "bitrate_kbps": 2048,
            }
            if demo:
                point["recorder"]["port"] = 15070
        points.append(point)
    return {
        "site": {
            "id": "bac-ninh-demo" if demo else "bac-ninh",
            "name": "Tỉnh Bắc Ninh (mô phỏng)" if demo else "Tỉnh Bắc Ninh",
            "timezone": "Asia/Ho_Chi_Minh",
        },
        "points": points,
        "sessions": {
            "plan": {"drills_before": ["1d", "2h"], "bringup_before": "15m"},
            "rules": [
                {
                    "id": "bi-thu-hang-quy",
                    "title": "Bí thư Tỉnh ủy tiếp công dân định kỳ",
                    "recurrence": {"kind": "quarterly", "day": 10, "month_of_quarter": 3},
                    "start": "08:00",
                    "duration": "3h30m",
                    "shift": "next-working-day",
                },
            ],
            "one_off": [],
        },
        **(
            {
                "drill": {
                    "call_seconds": 2.0,
                    "quick_call_seconds": 0.5,
                    "connect_timeout_s": 10.0,
                },
                "bringup": {
                    "dial_attempts": 3,
                    "retry_backoff_s": 0.3,
                    "connect_timeout_s": 10.0,
                    "poll_interval_s": 0.2,
                },
            }
            if demo
            else {}
        ),
        "mqtt": {
            "url": None if demo else "mqtts://10.27.0.50:8883",
            "protocol": "5",
            **(
                {}
                if demo
                else {
                    "username": "mcu-control",
                    "password": {"env": "MQTT_PASSWORD"},
                    "ca_file": "/etc/mcu-control/ca/broker.pem",
                }
            ),
        },
    }


HEADERS = {
    False: "# Bắc Ninh: the provincial MCU at the Citizen Reception Office joins 8 district rooms\n"
    "# over 50 Mbps links. Secrets are references; set them in the service environment.\n"
    "# Generated by tools/gen_sites.py — edit the table there, then regenerate.\n",
    True: "# The Bắc Ninh site pointed at the simulated rig on 127.0.0.1 (mcu-control sim up / demo).\n"
    "# All secrets come from MCU_CONTROL_DEMO_SECRET; every command run against this shipped\n"
    "# profile sets it to the simulated rig's value if unset.\n"
    "# Generated by tools/gen_sites.py — edit the table there, then regenerate.\n",
}


class _Dumper(yaml.SafeDumper):
    """No anchors/aliases (technicians edit these files), and times always quoted."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "profiles" / "sites"
    for demo, name in ((False, "bac-ninh.yaml"), (True, "demo.yaml")):
        text = yaml.dump(
            build(demo), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100
        )
        text = re.sub(r"(?m)^(\s+start: )(\d\d:\d\d)$", r'\1"\2"', text)  # YAML 1.1 base-60 trap
        (out / name).write_text(HEADERS[demo] + text, encoding="utf-8")


if __name__ == "__main__":
    main()
