"""Build a Codec (reachability check) from a point's `codec:` section."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devices.interfaces import Codec
from drivers.registry import driver_class

if TYPE_CHECKING:
    from profiles.codec import CodecConfig
    from profiles.loader import LoadedProfile
    from profiles.schema import PointConfig


def build(loaded: LoadedProfile, point: PointConfig, cfg: CodecConfig) -> Codec:
    """SIP OPTIONS or H.323 connect check against the codec's host and port."""
    name = f"{point.id}.{cfg.id}"
    # the registry checks the class implements Codec; constructors differ per driver
    cls: Any = driver_class(Codec, cfg.driver)
    codec: Codec
    if cfg.driver == "sip":
        codec = cls(
            name,
            host=cfg.host,
            port=cfg.effective_port,
            transport=cfg.transport,
            uri=cfg.address,
            timeout_s=cfg.timeout_s,
        )
    else:
        codec = cls(name, host=cfg.host, port=cfg.effective_port, timeout_s=cfg.timeout_s)
    return codec
