"""Build an AudioMixer from a point's `mixer:` section and its device model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.errors import ConfigError
from drivers.registry import spec

if TYPE_CHECKING:
    from devices.interfaces import AudioMixer
    from drivers.snmp.driver import SnmpMixer
    from drivers.tesira.driver import TesiraMixer
    from profiles.loader import LoadedProfile
    from profiles.mixer import MixerConfig, MixerModel
    from profiles.schema import PointConfig


def build(loaded: LoadedProfile, point: PointConfig, cfg: MixerConfig) -> AudioMixer:
    """A driver for the mixer (the registry's builder for its key)."""
    from devices.interfaces import AudioMixer
    from mcu_control.builders import build as build_any

    mixer = build_any("AudioMixer", cfg.driver, loaded, point, cfg)
    assert isinstance(mixer, AudioMixer)
    return mixer


def build_tesira(loaded: LoadedProfile, point: PointConfig, cfg: MixerConfig) -> TesiraMixer:
    """Tesira over telnet or RS-232; the model's `ttp:` command table as plain strings."""
    from drivers.tesira.driver import TesiraSerialMixer, TesiraTelnetMixer

    name = f"{point.id}.{cfg.id}"
    model = _model(loaded, name, cfg)
    if model.ttp is None:
        raise ConfigError(f"model {cfg.model!r} has no `ttp:` command table", device=name)
    meter_block = model.ttp.meter_block
    meters: dict[str, tuple[str, int]] = {}
    if meter_block:
        for ch_name, ch in cfg.channels.items():
            if ch.meter is not None or ch.role == "mic":
                meters[ch_name] = (meter_block, ch.meter or ch.index)
    commands = dict(model.ttp.commands)
    channels = {n: (ch.block or "", ch.index) for n, ch in cfg.channels.items()}
    level_range = (model.level_min_db, model.level_max_db)
    if spec("AudioMixer", cfg.driver).link == "serial":
        assert cfg.serial is not None
        s = cfg.serial
        return TesiraSerialMixer(
            name,
            url=s.port,
            baudrate=s.baudrate,
            bytesize=s.bytesize,
            parity=s.parity,
            stopbits=s.stopbits,
            commands=commands,
            channels=channels,
            meters=meters,
            level_range=level_range,
            manufacturer=model.manufacturer,
            model=model.name,
            timeout_s=cfg.timeout_s,
        )
    assert cfg.host is not None
    return TesiraTelnetMixer(
        name,
        host=cfg.host,
        port=cfg.effective_port or 23,
        commands=commands,
        channels=channels,
        meters=meters,
        level_range=level_range,
        manufacturer=model.manufacturer,
        model=model.name,
        timeout_s=cfg.timeout_s,
    )


def build_snmp(loaded: LoadedProfile, point: PointConfig, cfg: MixerConfig) -> SnmpMixer:
    """An SNMP v2c/v3 DSP; secrets resolved, the model's OID table as plain values."""
    from drivers.snmp.driver import SnmpMixer

    name = f"{point.id}.{cfg.id}"
    model = _model(loaded, name, cfg)
    snmp = cfg.snmp
    if snmp is None or model.snmp is None:
        raise ConfigError(f"model {cfg.model!r} has no `snmp:` OID table", device=name)
    assert cfg.host is not None
    base = loaded.path.parent
    try:
        return SnmpMixer(
            name,
            host=cfg.host,
            port=cfg.effective_port or 161,
            version=snmp.version,
            community=snmp.community.resolve(base_dir=base) if snmp.community else None,
            user=snmp.user,
            auth_key=snmp.auth_key.resolve(base_dir=base) if snmp.auth_key else None,
            priv_key=snmp.priv_key.resolve(base_dir=base) if snmp.priv_key else None,
            auth_protocol=snmp.auth_protocol,
            priv_protocol=snmp.priv_protocol,
            context=snmp.context,
            retries=snmp.retries,
            timeout_s=cfg.timeout_s,
            channels={n: ch.index for n, ch in cfg.channels.items()},
            oids=model.snmp.model_dump(),
            level_range=(model.level_min_db, model.level_max_db),
            manufacturer=model.manufacturer,
            model=model.name,
        )
    except ValueError as exc:
        raise ConfigError(str(exc), device=name) from None


def _model(loaded: LoadedProfile, name: str, cfg: MixerConfig) -> MixerModel:
    model = loaded.mixer_model(cfg.model)
    expected = spec("AudioMixer", cfg.driver).protocol
    if model.protocol != expected:
        raise ConfigError(
            f"model {cfg.model!r} speaks {model.protocol}, but the mixer uses driver {cfg.driver!r}",
            device=name,
            hint="pick a model of the same protocol or change `driver`",
        )
    return model
