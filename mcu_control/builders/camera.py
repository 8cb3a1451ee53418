"""Build a `PtzCamera` from a profile's camera section and its model file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.errors import ConfigError
from drivers.registry import driver_class

if TYPE_CHECKING:
    from devices.interfaces import PtzCamera
    from profiles.camera import CameraConfig, CameraModel
    from profiles.loader import LoadedProfile
    from profiles.schema import PointConfig

_PROTOCOL = {"onvif": "onvif", "visca-serial": "visca", "visca-ip": "visca"}


def build(loaded: LoadedProfile, point: PointConfig, cfg: CameraConfig) -> PtzCamera:
    """The driver for `cfg`, named "<point>.<camera>", with secrets resolved and model data unpacked."""
    from devices.interfaces import PtzCamera

    name = f"{point.id}.{cfg.id}"
    model = loaded.camera_model(cfg.model)
    if model.protocol != _PROTOCOL[cfg.driver]:
        raise ConfigError(
            f"model {cfg.model!r} speaks {model.protocol}, but the camera uses driver {cfg.driver!r}",
            device=name,
            hint="pick a model of the same protocol or change `driver`",
        )
    cls = driver_class(PtzCamera, cfg.driver)  # type: ignore[type-abstract]
    if cfg.driver == "onvif":
        return _onvif(loaded, name, cfg, model, cls)
    return _visca(name, cfg, model, cls)


def _onvif(
    loaded: LoadedProfile,
    name: str,
    cfg: CameraConfig,
    model: CameraModel,
    cls: type[PtzCamera],
) -> PtzCamera:
    from profiles.camera import OnvifModel

    assert cfg.password is not None
    assert cfg.username is not None
    assert cfg.host is not None
    onvif = model.onvif or OnvifModel()
    secret = cfg.password.resolve(base_dir=loaded.path.parent)
    return cls(  # type: ignore[call-arg]
        name,
        host=cfg.host,
        port=cfg.effective_port,
        username=cfg.username,
        password=secret,
        profile_token=cfg.profile_token,
        timeout_s=cfg.timeout_s,
        settle_tolerance=onvif.settle_tolerance,
        whole_second_timeouts=onvif.whole_second_timeouts,
    )


def _visca(name: str, cfg: CameraConfig, model: CameraModel, cls: type[PtzCamera]) -> PtzCamera:
    from drivers.visca.driver import ViscaRanges
    from drivers.visca.transport import ViscaTransport

    v = model.visca
    assert v is not None
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
    if cfg.driver == "visca-serial":
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
    return cls(  # type: ignore[call-arg]
        name,
        transport,
        ranges=ranges,
        preset_names={number: display for display, number in cfg.presets.items()},
        manufacturer=model.manufacturer,
        model=model.name,
        timeout_s=cfg.timeout_s,
    )
