"""Build every device of a profile through the registry's typed builders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcu_control.builders import build

if TYPE_CHECKING:
    from devices.interfaces import AudioMixer, Codec, Mcu, PtzCamera
    from profiles.camera import CameraConfig
    from profiles.codec import CodecConfig
    from profiles.loader import LoadedProfile
    from profiles.mcu import McuConfig
    from profiles.mixer import MixerConfig
    from profiles.schema import PointConfig


def device_id(point: PointConfig, device: str) -> str:
    """The site-wide id of a device, used in messages, topics and the state store."""
    return f"{point.id}.{device}"


def build_mcu(loaded: LoadedProfile, cfg: McuConfig | None = None) -> Mcu:
    """The host MCU (the central point's `mcu`), or the site MCU `cfg` (one of `mcus:`)."""
    from mcu_control.builders import mcu

    return mcu.build(loaded, cfg)


def build_camera(loaded: LoadedProfile, point: PointConfig, cfg: CameraConfig) -> PtzCamera:
    from devices.interfaces import PtzCamera

    cam = build("PtzCamera", cfg.driver, loaded, point, cfg)
    assert isinstance(cam, PtzCamera)
    return cam


def build_mixer(loaded: LoadedProfile, point: PointConfig, cfg: MixerConfig) -> AudioMixer:
    from devices.interfaces import AudioMixer

    mixer = build("AudioMixer", cfg.driver, loaded, point, cfg)
    assert isinstance(mixer, AudioMixer)
    return mixer


def build_codec(loaded: LoadedProfile, point: PointConfig, cfg: CodecConfig) -> Codec:
    from devices.interfaces import Codec

    codec = build("Codec", cfg.driver, loaded, point, cfg)
    assert isinstance(codec, Codec)
    return codec
