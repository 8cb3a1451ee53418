"""Camera drivers paired with their simulators, shared by the PTZ contract and transport tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devices.interfaces import PtzCamera, PtzPosition
from devices.secrets import Secret
from drivers.onvif.driver import OnvifCamera
from drivers.registry import keys
from drivers.visca.driver import ViscaCamera, ViscaRanges
from drivers.visca.ip import ViscaIpTransport
from drivers.visca.serial import ViscaSerialTransport
from hil.sim.onvif_cam import OnvifCameraSim
from hil.sim.visca_cam import ViscaIpSim, ViscaSerialSim

MOVE_TIME_S = 0.3
#: generic-space tolerance for "arrived" (VISCA integer units quantise by ~5e-4)
TOL = 0.01
PASSWORD = "sim-secret-Xy7"
SRG_300H = ViscaRanges(
    pan_min=-2448,
    pan_max=2448,
    tilt_min=-432,
    tilt_max=1296,
    zoom_max=16384,
    pan_speed_max=24,
    tilt_speed_max=20,
    preset_min=0,
    preset_max=15,
)
SIM_RANGES = {"tilt_speed_max": 20}
#: (display name, generic position) per preset, in profile order
PRESETS: list[tuple[str, tuple[float, float, float]]] = [
    ("chủ trì", (0.2, 0.1, 0.3)),
    ("công dân", (-0.5, -0.2, 0.8)),
    ("toàn cảnh", (0.0, 0.0, 0.0)),
]
ONVIF_TOKENS = ["preset-chu-tri", "preset-cong-dan", "preset-toan-canh"]
VISCA_TOKENS = ["1", "2", "3"]

#: contract rows per registered driver key (tests/contract/test_registry.py checks coverage)
ROWS: dict[str, list[str]] = {
    "onvif": ["onvif", "onvif-quirks"],
    "visca-serial": ["visca-socket", "visca-pty"],
    "visca-ip": ["visca-ip"],
}
KINDS = [row for key in keys("PtzCamera") for row in ROWS.get(key, [])]


@dataclass
class Rig:
    kind: str
    cam: PtzCamera
    sim: Any
    tokens: list[str]

    def preset_position(self, index: int) -> PtzPosition:
        return PtzPosition(*PRESETS[index][1])


def onvif_sim(**kw: Any) -> OnvifCameraSim:
    presets = {t: (n, *p) for t, (n, p) in zip(ONVIF_TOKENS, PRESETS, strict=True)}
    return OnvifCameraSim(password=PASSWORD, presets=presets, move_time_s=MOVE_TIME_S, **kw)


def onvif_cam(sim: OnvifCameraSim, **kw: Any) -> OnvifCamera:
    return OnvifCamera(
        kw.pop("name", "test.cam1"),
        host="127.0.0.1",
        port=sim.port,
        username="mcuctl",
        password=Secret(kw.pop("password", PASSWORD)),
        timeout_s=kw.pop("timeout_s", 2.0),
        settle_poll_s=0.05,
        **kw,
    )


def visca_presets() -> dict[int, tuple[float, float, float]]:
    return {int(t): p for t, (_, p) in zip(VISCA_TOKENS, PRESETS, strict=True)}


def visca_cam(name: str, transport: Any) -> ViscaCamera:
    return ViscaCamera(
        name,
        transport,
        ranges=SRG_300H,
        preset_names={t: n for t, (n, _) in zip(VISCA_TOKENS, PRESETS, strict=True)},
        manufacturer="Sony",
        model="sony-srg-300h",
        timeout_s=1.0,
    )


async def make_rig(kind: str) -> Rig:
    """Start the simulator for `kind` and a connected driver in front of it."""
    sim: Any
    if kind.startswith("onvif"):
        sim = onvif_sim(quirks=kind == "onvif-quirks")
        await sim.start()
        cam: PtzCamera = onvif_cam(sim)
        tokens = ONVIF_TOKENS
    elif kind in ("visca-socket", "visca-pty"):
        sim = ViscaSerialSim(
            presets=visca_presets(),
            move_time_s=MOVE_TIME_S,
            pty=kind == "visca-pty",
            ranges=SIM_RANGES,
        )
        await sim.start()
        port = sim.pty_path if kind == "visca-pty" else sim.url
        cam = visca_cam("test.cam1", ViscaSerialTransport("test.cam1", port=port, timeout_s=1.0))
        tokens = VISCA_TOKENS
    else:
        sim = ViscaIpSim(presets=visca_presets(), move_time_s=MOVE_TIME_S, ranges=SIM_RANGES)
        await sim.start()
        transport = ViscaIpTransport(
            "test.cam1", host="127.0.0.1", port=sim.port, timeout_s=1.0, resend_after_s=0.2
        )
        cam = visca_cam("test.cam1", transport)
        tokens = VISCA_TOKENS
    try:
        await cam.connect()
    except BaseException:
        await cam.close()
        await sim.stop()
        raise
    return Rig(kind, cam, sim, tokens)


async def close_rig(r: Rig) -> None:
    await r.cam.close()
    await r.sim.stop()
