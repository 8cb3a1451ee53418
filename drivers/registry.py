"""The one registry of drivers: what a profile's `driver:` key means, everywhere it is read.

Each driver has a `DriverSpec`: its key, the capability interface it implements, the protocol
(or MCU family) its model file must name, the link its profile section must give, its default
port, the profile settings model and model-file section it reads, the builder that makes it from
a profile, the simulator the rig starts for it, and the contract-suite rows that test it.
Profile validation (`profiles/`), the builders (`mcu_control/builders/`), the simulated rig
(`hil/rig.py`) and the contract suites all read this table; adding a family is one entry here
(see CONTRIBUTING.md).

Entries name classes and functions by import path, not by object, so that loading the registry
imports no protocol library: a CLI command that talks to one camera does not pay for pysnmp or
zeep; and `drivers/` does not import the profile or builder code above it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from devices.errors import ConfigError
from devices.interfaces import AudioMixer, Codec, Mcu, PtzCamera

#: how the profile reaches the device: `serial` needs a `serial:` link, the others a `host`
Link = Literal["serial", "tcp", "udp", "http"]


@dataclass(frozen=True, slots=True)
class DriverSpec:
    """Everything the rest of the code needs to know about one driver key."""

    key: str
    #: the capability interface the driver implements (a `devices.interfaces` ABC; typed as
    #: plain `type` because mypy admits only concrete classes for `type[Device]`)
    interface: type
    #: what the device's model file must say: `protocol:` (cameras, mixers) or `family:` (MCUs)
    protocol: str
    link: Link
    default_port: int | None
    #: "module:Class" of the driver
    target: str
    #: "module:Class" of the profile section that configures it (for documentation and checks)
    settings: str
    #: the model-file section the builder reads (`visca:`, `ttp:` …), None if none
    model_section: str | None
    #: "module:function" of the typed builder: (loaded, point, cfg) -> the driver; None: the
    #: generic builder makes it from this spec and the profile section (mcu_control.builders)
    build: str | None
    #: the simulator the rig starts for this driver: a name registered in hil/rig.py
    #: (`SIMULATORS`), or "module:function" of the family's own factory
    simulator: str
    #: profile fields the driver cannot work without, besides the link
    requires: tuple[str, ...] = ()
    #: optional behaviours a profile may ask of this driver (e.g. "records-itself": an MCU
    #: that records the conference on its own recording link)
    features: frozenset[str] = frozenset()

    @property
    def kind(self) -> str:
        """The interface's name: `PtzCamera`, `AudioMixer`, `Mcu`, `Codec`."""
        return self.interface.__name__


_B = "mcu_control.builders"

#: the MCU records the session conference itself (RMX START_RECORDING); see profiles/mcu.py
RECORDS_ITSELF = "records-itself"

SPECS: tuple[DriverSpec, ...] = (
    DriverSpec(
        key="codian-xmlrpc",
        interface=Mcu,
        protocol="codian",
        link="http",
        default_port=None,
        target="drivers.codian.driver:CodianMcu",
        settings="profiles.mcu:McuConfig",
        model_section=None,
        build=f"{_B}.mcu:build_codian",
        simulator="mcu-codian",
    ),
    DriverSpec(
        key="rmx-xml",
        interface=Mcu,
        protocol="rmx",
        link="http",
        default_port=None,
        target="drivers.rmx.driver:RmxMcu",
        settings="profiles.mcu:McuConfig",
        model_section=None,
        build=f"{_B}.mcu:build_rmx",
        simulator="mcu-rmx",
        features=frozenset({RECORDS_ITSELF}),
    ),
    DriverSpec(
        key="onvif",
        interface=PtzCamera,
        protocol="onvif",
        link="http",
        default_port=80,
        target="drivers.onvif.driver:OnvifCamera",
        settings="profiles.camera:CameraConfig",
        model_section="onvif",
        build=f"{_B}.camera:build_onvif",
        simulator="onvif-camera",
        requires=("username", "password"),
    ),
    DriverSpec(
        key="visca-serial",
        interface=PtzCamera,
        protocol="visca",
        link="serial",
        default_port=None,
        target="drivers.visca.driver:ViscaCamera",
        settings="profiles.camera:CameraConfig",
        model_section="visca",
        build=f"{_B}.camera:build_visca",
        simulator="visca-serial",
    ),
    DriverSpec(
        key="visca-ip",
        interface=PtzCamera,
        protocol="visca",
        link="udp",
        default_port=52381,
        target="drivers.visca.driver:ViscaCamera",
        settings="profiles.camera:CameraConfig",
        model_section="visca",
        build=f"{_B}.camera:build_visca",
        simulator="visca-ip",
    ),
    DriverSpec(
        key="tesira-serial",
        interface=AudioMixer,
        protocol="ttp",
        link="serial",
        default_port=None,
        target="drivers.tesira.driver:TesiraSerialMixer",
        settings="profiles.mixer:MixerConfig",
        model_section="ttp",
        build=f"{_B}.mixer:build_tesira",
        simulator="tesira-serial",
    ),
    DriverSpec(
        key="tesira-telnet",
        interface=AudioMixer,
        protocol="ttp",
        link="tcp",
        default_port=23,
        target="drivers.tesira.driver:TesiraTelnetMixer",
        settings="profiles.mixer:MixerConfig",
        model_section="ttp",
        build=f"{_B}.mixer:build_tesira",
        simulator="tesira-telnet",
    ),
    DriverSpec(
        key="snmp",
        interface=AudioMixer,
        protocol="snmp",
        link="udp",
        default_port=161,
        target="drivers.snmp.driver:SnmpMixer",
        settings="profiles.mixer:MixerConfig",
        model_section="snmp",
        build=f"{_B}.mixer:build_snmp",
        simulator="snmpsim",
        requires=("snmp",),
    ),
    DriverSpec(
        key="sip",
        interface=Codec,
        protocol="sip",
        link="udp",
        default_port=5060,
        target="drivers.sip.driver:SipCodec",
        settings="profiles.codec:CodecConfig",
        model_section=None,
        build=f"{_B}.codec:build_sip",
        simulator="sip",
    ),
    DriverSpec(
        key="h323",
        interface=Codec,
        protocol="h323",
        link="tcp",
        default_port=1720,
        target="drivers.sip.driver:H323Codec",
        settings="profiles.codec:CodecConfig",
        model_section=None,
        build=None,  # the generic builder: host, port, timeout_s
        simulator="h323",
    ),
)

_BY_KIND: dict[str, dict[str, DriverSpec]] = {}
for _spec in SPECS:
    _BY_KIND.setdefault(_spec.kind, {})[_spec.key] = _spec


def specs(kind: str) -> dict[str, DriverSpec]:
    """Specs by key for one interface name (`"PtzCamera"`, `"AudioMixer"`, `"Mcu"`, `"Codec"`)."""
    return dict(_BY_KIND.get(kind, {}))


def keys(kind: str) -> tuple[str, ...]:
    """The driver keys registered for one interface name, sorted."""
    return tuple(sorted(_BY_KIND.get(kind, {})))


def spec(kind: str, key: str) -> DriverSpec:
    """The spec of `key` under interface `kind`; ConfigError naming the known keys if none."""
    table = _BY_KIND.get(kind, {})
    found = table.get(key)
    if found is None:
        known = ", ".join(sorted(table)) or "none yet"
        raise ConfigError(f"no {kind} driver {key!r} (available: {known})")
    return found


def resolve(path: str) -> Any:
    """The object named by "module:attribute"."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
