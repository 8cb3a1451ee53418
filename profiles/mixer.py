"""Profile sections for audio mixers/DSPs and mixer models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from profiles.common import (
    Host,
    Port,
    SecretRef,
    SerialLink,
    Slug,
    Strict,
    Timeout,
    check_link,
    driver_spec,
    registered,
    registered_protocol,
)

#: a key of drivers/registry.py for an AudioMixer
MixerDriver = Annotated[str, AfterValidator(registered("AudioMixer"))]


class ChannelConfig(Strict):
    label: str  # Vietnamese label shown on panels, e.g. "Micro chủ trì"
    block: str | None = None  # TTP instance tag; unused by SNMP models
    index: int = Field(default=1, ge=1, le=256)
    role: Literal["mic", "program", "output"] = "mic"
    #: channel of the model's meter block (TTP) showing this input; default: `index` for mics
    meter: int | None = Field(default=None, ge=1, le=256)


class SnmpConfig(Strict):
    version: Literal["2c", "3"] = "2c"
    community: SecretRef | None = None
    user: str | None = None
    auth_key: SecretRef | None = None
    priv_key: SecretRef | None = None
    auth_protocol: Literal["SHA", "SHA256", "MD5"] = "SHA"
    priv_protocol: Literal["AES", "AES256", "DES"] = "AES"
    context: str = ""
    retries: int = Field(default=0, ge=0, le=5)

    @model_validator(mode="after")
    def _credentials(self) -> SnmpConfig:
        if self.version == "2c" and self.community is None:
            raise ValueError("SNMP v2c needs `community: {env: …}`")
        if self.version == "3" and (
            self.user is None or self.auth_key is None or self.priv_key is None
        ):
            raise ValueError("SNMPv3 authPriv needs `user`, `auth_key` and `priv_key`")
        return self


class MixerConfig(Strict):
    id: Slug
    name: str = "Mixer"
    driver: MixerDriver
    model: str
    host: Host | None = None
    port: Port | None = None
    serial: SerialLink | None = None
    snmp: SnmpConfig | None = None
    channels: dict[Slug, ChannelConfig] = Field(min_length=1)
    session_channels: list[str] = Field(default_factory=list)  # unmuted at bring-up
    timeout_s: Timeout = 2.0

    @model_validator(mode="after")
    def _transport_fields(self) -> MixerConfig:
        spec = driver_spec("AudioMixer", self.driver)
        check_link(spec, "mixer", dict(self))
        for ch in self.session_channels:
            if ch not in self.channels:
                raise ValueError(f"session channel {ch!r} is not one of the channels")
        if spec.protocol == "ttp":
            for ch_name, channel in self.channels.items():
                if channel.block is None:
                    raise ValueError(f"Tesira channel {ch_name!r} needs `block` (its instance tag)")
        return self

    @property
    def effective_port(self) -> int | None:
        if self.port is not None:
            return self.port
        return driver_spec("AudioMixer", self.driver).default_port


class TtpModel(Strict):
    """Command templates: {block} is the instance tag, {index} the channel, {value} the value."""

    commands: dict[str, str] = Field(default_factory=dict)
    meter_block: str | None = None


class SnmpOids(Strict):
    """OIDs read or written by the SNMP driver; {index} is the channel index."""

    mute: str | None = None
    mute_on: int = 1
    mute_off: int = 2
    level: str | None = None
    level_scale: float = 1.0  # device units per dB
    meter: str | None = None
    snapshot: str | None = None
    firmware: str | None = None  # a vendor OID holding the firmware version
    sensors: list[int] = Field(default_factory=list)  # entPhysicalIndex of ENTITY-SENSOR rows
    interfaces: list[int] = Field(default_factory=lambda: [1])


class MixerModel(Strict):
    kind: Literal["mixer"]
    name: str
    manufacturer: str
    description: str = ""
    protocol: Annotated[str, AfterValidator(registered_protocol("AudioMixer"))]
    level_min_db: float = -100.0
    level_max_db: float = 12.0
    ttp: TtpModel | None = None
    snmp: SnmpOids | None = None
