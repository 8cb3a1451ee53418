"""Build every device of a profile through the per-kind builders."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devices.interfaces import AudioMixer, Codec, Mcu, PtzCamera
    from profiles.camera import CameraConfig
    from profiles.codec import CodecConfig
    from profiles.loader import LoadedProfile
    from profiles.mixer import MixerConfig
    from profiles.schema import PointConfig


def _builder(kind: str) -> Any:
    return importlib.import_module(f"mcu_control.builders.{kind}").build


def device_id(point: PointConfig, device: str) -> str:
    """The site-wide id of a device, used in messages, topics and the state store."""
    return f"{point.id}.{device}"


def build_mcu(loaded: LoadedProfile) -> Mcu:
    mcu: Mcu = _builder("mcu")(loaded)
    return mcu


def build_camera(loaded: LoadedProfile, point: PointConfig, cfg: CameraConfig) -> PtzCamera:
    cam: PtzCamera = _builder("camera")(loaded, point, cfg)
    return cam


def build_mixer(loaded: LoadedProfile, point: PointConfig, cfg: MixerConfig) -> AudioMixer:
    mixer: AudioMixer = _builder("mixer")(loaded, point, cfg)
    return mixer


def build_codec(loaded: LoadedProfile, point: PointConfig, cfg: CodecConfig) -> Codec:
    codec: Codec = _builder("codec")(loaded, point, cfg)
    return codec
