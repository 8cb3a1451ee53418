"""The camera builder: every camera of the shipped profiles becomes the right driver."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devices.errors import ConfigError
from drivers.onvif.driver import OnvifCamera
from drivers.visca.driver import ViscaCamera
from drivers.visca.ip import ViscaIpTransport
from drivers.visca.serial import ViscaSerialTransport
from mcu_control.factory import build_camera
from profiles.loader import load_profile

SITES = Path(__file__).resolve().parent.parent / "profiles" / "sites"


@pytest.mark.parametrize("site", ["demo", "bac-ninh"])
def test_every_camera_builds(site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_profile(SITES / f"{site}.yaml")
    for pt in loaded.profile.points:
        for cfg in pt.cameras:
            if cfg.password is not None and cfg.password.env:
                monkeypatch.setenv(cfg.password.env, "built-in-test")
    kinds = set()
    for pt in loaded.profile.points:
        for cfg in pt.cameras:
            cam = build_camera(loaded, pt, cfg)
            assert cam.name == f"{pt.id}.{cfg.id}"
            kinds.add(cfg.driver)
            if cfg.driver == "onvif":
                assert isinstance(cam, OnvifCamera)
                assert cam.port == cfg.effective_port
                assert "built-in-test" not in repr(vars(cam))
            else:
                assert isinstance(cam, ViscaCamera)
                model = loaded.camera_model(cfg.model).visca
                assert model is not None
                assert cam.ranges.pan_max == model.pan_max
                assert cam.ranges.tilt_min == model.tilt_min
                assert set(cam.preset_names) == set(cfg.presets.values())
                transport = cam.transport
                if cfg.driver == "visca-serial":
                    assert isinstance(transport, ViscaSerialTransport)
                    assert cfg.serial is not None
                    assert transport.port == cfg.serial.port
                    assert transport.address == cfg.visca_address
                else:
                    assert isinstance(transport, ViscaIpTransport)
                    assert transport.port == cfg.effective_port
    if site == "demo":
        assert kinds == {"onvif", "visca-serial", "visca-ip"}


def test_model_of_the_wrong_protocol_is_refused_at_load(
    demo_profile_data: dict[str, Any], write_profile: Callable[[dict[str, Any]], Path]
) -> None:
    pt = next(p for p in demo_profile_data["points"] if p["id"] == "tien-du")
    pt["cameras"][0]["model"] = "onvif-generic-ptz"
    with pytest.raises(ConfigError, match="speaks onvif"):
        load_profile(write_profile(demo_profile_data))


def test_missing_password_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCU_CONTROL_DEMO_SECRET", raising=False)
    loaded = load_profile(SITES / "demo.yaml")
    point = next(p for p in loaded.profile.points if p.cameras[0].driver == "onvif")
    with pytest.raises(ConfigError, match="MCU_CONTROL_DEMO_SECRET"):
        build_camera(loaded, point, point.cameras[0])
