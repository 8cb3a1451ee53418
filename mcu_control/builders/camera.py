"""Build a `PtzCamera` from a profile's camera section and its model file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.errors import ConfigError
from drivers.registry import spec

if TYPE_CHECKING:
    from devices.interfaces import PtzCamera
    from drivers.onvif.driver import OnvifCamera
    from drivers.visca.driver import ViscaCamera
    from profiles.camera import CameraConfig, CameraModel
    from profiles.loader import LoadedProfile
    from profiles.schema import PointConfig


def build(loaded: LoadedProfile, point: PointConfig, cfg: CameraConfig) -> PtzCamera:
    """The driver for `cfg`, named "<point>.<camera>" (the registry's builder for its key)."""
    from devices.interfaces import PtzCamera
    from mcu_control.builders import build as build_any

    camera = build_any("PtzCamera", cfg.driver, loaded, point, cfg)
    assert isinstance(camera, PtzCamera)
    return camera


def build_onvif(loaded: LoadedProfile, point: PointConfig, cfg: CameraConfig) -> OnvifCamera:
    from drivers.onvif.driver import OnvifCamera
    from profiles.camera import OnvifModel

    name = f"{point.id}.{cfg.id}"
    model = _model(loaded, name, cfg)
    assert cfg.password is not None
    assert cfg.username is not None
    assert cfg.host is not None
    onvif = model.onvif or OnvifModel()
    secret = cfg.password.resolve(base_dir=loaded.path.parent)
    return OnvifCamera(
        name,
        host=cfg.host,
        port=cfg.effective_port or 80,
        username=cfg.username,
        password=secret,
        profile_token=cfg.profile_token,
        timeout_s=cfg.timeout_s,
        settle_tolerance=onvif.settle_tolerance,
        whole_second_timeouts=onvif.whole_second_timeouts,
    )


def build_visca(loaded: LoadedProfile, point: PointConfig, cfg: CameraConfig) -> ViscaCamera:
    from drivers.visca.driver import ViscaCamera, ViscaRanges
    from drivers.visca.transport import ViscaTransport

    name = f"{point.id}.{cfg.id}"
    model = _model(loaded, name, cfg)
    v = model.visca
    if v is None:
        raise ConfigError(f"model {cfg.model!r} has no `visca:` ranges", device=name)
    ranges = ViscaRanges(
        pan_min=v.pan_min,
        pan_max=v.pan_max,
        tilt_min=v.tilt_min,
        tilt_max=v.tilt_max,
        zoom_max=v.zoom_max,
        pan_speed_max=v.pan_speed_max,
        tilt_speed_max=v.tilt_speed_max,
        preset_min=v.preset_min,
        preset_max=v.preset_max,
    )
    transport: ViscaTransport
    if spec("PtzCamera", cfg.driver).link == "serial":
        from drivers.visca.serial import ViscaSerialTransport

        assert cfg.serial is not None
        s = cfg.serial
        transport = ViscaSerialTransport(
            name,
            port=s.port,
            address=cfg.visca_address,
            baudrate=s.baudrate,
            bytesize=s.bytesize,
            parity=s.parity,
            stopbits=s.stopbits,
            timeout_s=cfg.timeout_s,
        )
    else:
        from drivers.visca.ip import ViscaIpTransport

        assert cfg.host is not None
        transport = ViscaIpTransport(
            name, host=cfg.host, port=cfg.effective_port or 52381, timeout_s=cfg.timeout_s
        )
    return ViscaCamera(
        name,
        transport,
        ranges=ranges,
        preset_names={number: display for display, number in cfg.presets.items()},
        manufacturer=model.manufacturer,
        model=model.name,
        timeout_s=cfg.timeout_s,
    )


def _model(loaded: LoadedProfile, name: str, cfg: CameraConfig) -> CameraModel:
    model = loaded.camera_model(cfg.model)
    expected = spec("PtzCamera", cfg.driver).protocol
    if model.protocol != expected:
        raise ConfigError(
            f"model {cfg.model!r} speaks {model.protocol}, but the camera uses driver {cfg.driver!r}",
            device=name,
            hint="pick a model of the same protocol or change `driver`",
        )
    return model
