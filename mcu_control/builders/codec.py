"""Build a Codec (reachability check) from a point's `codec:` section."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devices.interfaces import Codec
    from drivers.sip.driver import SipCodec
    from profiles.codec import CodecConfig
    from profiles.loader import LoadedProfile
    from profiles.schema import PointConfig


def build(loaded: LoadedProfile, point: PointConfig, cfg: CodecConfig) -> Codec:
    """SIP OPTIONS or H.323 connect check (H.323: the generic builder, drivers/registry.py)."""
    from devices.interfaces import Codec
    from mcu_control.builders import build as build_any

    codec = build_any("Codec", cfg.driver, loaded, point, cfg)
    assert isinstance(codec, Codec)
    return codec


def build_sip(loaded: LoadedProfile, point: PointConfig, cfg: CodecConfig) -> SipCodec:
    from drivers.sip.driver import SipCodec

    return SipCodec(
        f"{point.id}.{cfg.id}",
        host=cfg.host,
        port=cfg.effective_port,
        transport=cfg.transport,
        uri=cfg.address,
        timeout_s=cfg.timeout_s,
    )
