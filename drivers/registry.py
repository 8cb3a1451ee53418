"""The one explicit map from a profile's `driver:` key to the class that implements it.

Entries are import paths, not classes, so that loading the registry imports no protocol
library: a CLI command that talks to one camera does not pay for pysnmp or zeep.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from devices.errors import ConfigError
from devices.interfaces import AudioMixer, Codec, Device, Mcu, PtzCamera

D = TypeVar("D", bound=Device)

MCU_DRIVERS: dict[str, str] = {
    "codian-xmlrpc": "drivers.codian.driver:CodianMcu",
    "rmx-xml": "drivers.rmx.driver:RmxMcu",
}
CAMERA_DRIVERS: dict[str, str] = {
    "onvif": "drivers.onvif.driver:OnvifCamera",
    "visca-serial": "drivers.visca.driver:ViscaCamera",
    "visca-ip": "drivers.visca.driver:ViscaCamera",
}
MIXER_DRIVERS: dict[str, str] = {
    "tesira-serial": "drivers.tesira.driver:TesiraSerialMixer",
    "tesira-telnet": "drivers.tesira.driver:TesiraTelnetMixer",
    "snmp": "drivers.snmp.driver:SnmpMixer",
}
CODEC_DRIVERS: dict[str, str] = {
    "sip": "drivers.sip.driver:SipCodec",
    "h323": "drivers.sip.driver:H323Codec",
}

_TABLES: dict[str, dict[str, str]] = {
    Mcu.__name__: MCU_DRIVERS,
    PtzCamera.__name__: CAMERA_DRIVERS,
    AudioMixer.__name__: MIXER_DRIVERS,
    Codec.__name__: CODEC_DRIVERS,
}


def driver_class(kind: type[D], key: str) -> type[D]:
    """The class registered for `key` under interface `kind`; ConfigError if there is none."""
    table = _TABLES[kind.__name__]
    target = table.get(key)
    if target is None:
        known = ", ".join(sorted(table)) or "none yet"
        raise ConfigError(f"no {kind.__name__} driver {key!r} (available: {known})")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, kind)):
        raise ConfigError(f"driver {key!r} ({target}) does not implement {kind.__name__}")
    return cls
