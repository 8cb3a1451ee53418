"""Build an AudioMixer from a point's `mixer:` section and its device model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devices.errors import ConfigError
from devices.interfaces import AudioMixer
from drivers.registry import driver_class

if TYPE_CHECKING:
    from profiles.loader import LoadedProfile
    from profiles.mixer import MixerConfig
    from profiles.schema import PointConfig


def build(loaded: LoadedProfile, point: PointConfig, cfg: MixerConfig) -> AudioMixer:
    """A driver for the mixer; secrets resolved, model tables passed as plain values."""
    name = f"{point.id}.{cfg.id}"
    model = loaded.mixer_model(cfg.model)
    # the registry checks the class implements AudioMixer; constructors differ per driver
    cls: Any = driver_class(AudioMixer, cfg.driver)
    level_range = (model.level_min_db, model.level_max_db)
    kwargs: dict[str, Any] = {"timeout_s": cfg.timeout_s, "level_range": level_range}
    if cfg.driver.startswith("tesira"):
        if model.ttp is None:
            raise ConfigError(f"model {cfg.model!r} has no `ttp:` command table", device=name)
        meter_block = model.ttp.meter_block
        meters: dict[str, tuple[str, int]] = {}
        if meter_block:
            for ch_name, ch in cfg.channels.items():
                if ch.meter is not None or ch.role == "mic":
                    meters[ch_name] = (meter_block, ch.meter or ch.index)
        kwargs |= {
            "commands": dict(model.ttp.commands),
            "channels": {n: (ch.block or "", ch.index) for n, ch in cfg.channels.items()},
            "meters": meters,
            "manufacturer": model.manufacturer,
            "model": model.name,
        }
        if cfg.driver == "tesira-serial":
            assert cfg.serial is not None
            s = cfg.serial
            kwargs |= {
                "url": s.port,
                "baudrate": s.baudrate,
                "bytesize": s.bytesize,
                "parity": s.parity,
                "stopbits": s.stopbits,
            }
        else:
            kwargs |= {"host": cfg.host, "port": cfg.effective_port}
        tesira: AudioMixer = cls(name, **kwargs)
        return tesira
    snmp = cfg.snmp
    if snmp is None or model.snmp is None:
        raise ConfigError(f"model {cfg.model!r} has no `snmp:` OID table", device=name)
    base = loaded.path.parent
    kwargs |= {
        "host": cfg.host,
        "port": cfg.effective_port,
        "version": snmp.version,
        "community": snmp.community.resolve(base_dir=base) if snmp.community else None,
        "user": snmp.user,
        "auth_key": snmp.auth_key.resolve(base_dir=base) if snmp.auth_key else None,
        "priv_key": snmp.priv_key.resolve(base_dir=base) if snmp.priv_key else None,
        "auth_protocol": snmp.auth_protocol,
        "priv_protocol": snmp.priv_protocol,
        "context": snmp.context,
        "retries": snmp.retries,
        "channels": {n: ch.index for n, ch in cfg.channels.items()},
        "oids": model.snmp.model_dump(),
        "manufacturer": model.manufacturer,
        "model": model.name,
    }
    try:
        mixer: AudioMixer = cls(name, **kwargs)
    except ValueError as exc:
        raise ConfigError(str(exc), device=name) from None
    return mixer
