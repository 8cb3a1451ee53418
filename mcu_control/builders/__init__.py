"""Turn profile sections into driver objects.

Drivers import only `devices`, never `profiles`; these builders are where a profile's
configuration (secrets resolved, model data unpacked into plain values) meets a driver's
constructor. `build(kind, key, loaded, point, cfg)` is the one generic entry: it looks the key
up in `drivers/registry.py` and calls that driver's typed builder — a function here that
constructs the concrete class with checked arguments:

- `mcu.build_codian`, `mcu.build_rmx` (and `mcu.build(loaded)` for the central point's MCU)
- `camera.build_onvif`, `camera.build_visca`
- `mixer.build_tesira`, `mixer.build_snmp`
- `codec.build_sip` (also the recorder's reachability); `h323` has no builder: `generic`

A spec whose `build` is None is built by `generic` from the spec and the profile section alone
(no builder function): the driver class (`target`) gets the device name and, of the keyword
arguments its constructor names, `host`/`port` (the link; the spec's default port),
`serial_port`/`baudrate` (a serial link), `timeout_s`, `username`, `password` (resolved) and the
model file's section named by `model_section` as a plain dict. A family whose driver needs
more (derived values, several transports) writes a typed builder instead.

Device names passed to drivers are "<point id>.<device id>" so every error names the device.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from devices.errors import ConfigError
from drivers.registry import DriverSpec, resolve, spec

if TYPE_CHECKING:
    from devices.interfaces import Device
    from profiles.loader import LoadedProfile
    from profiles.schema import PointConfig


def build(kind: str, key: str, *args: Any) -> Device:
    """The driver for `key` (an `kind` interface: "PtzCamera", "AudioMixer", "Mcu", "Codec")."""
    from devices.interfaces import Device

    s = spec(kind, key)
    device = generic(s, *args) if s.build is None else resolve(s.build)(*args)
    if not (isinstance(device, Device) and isinstance(device, s.interface)):
        raise TypeError(f"{s.build or s.target} built {type(device).__name__}, not a {kind}")
    return device


def generic(s: DriverSpec, loaded: LoadedProfile, point: PointConfig, cfg: Any) -> Any:
    """`s.target` built from the profile section `cfg` (see the module's docstring)."""
    name = f"{point.id}.{cfg.id}"
    offered: dict[str, Any] = {}
    if s.link == "serial":
        serial = getattr(cfg, "serial", None)
        if serial is not None:
            offered |= {"serial_port": serial.port, "baudrate": serial.baudrate}
    else:
        offered["host"] = getattr(cfg, "host", None)
        offered["port"] = getattr(cfg, "effective_port", None) or s.default_port
    for field in ("timeout_s", "username"):
        if getattr(cfg, field, None) is not None:
            offered[field] = getattr(cfg, field)
    password = getattr(cfg, "password", None)
    if password is not None:
        offered["password"] = password.resolve(base_dir=loaded.path.parent)
    if s.model_section is not None:
        model = loaded.models.get(getattr(cfg, "model", ""))
        section = getattr(model, s.model_section, None)
        if section is not None:
            offered[s.model_section] = section.model_dump()
    cls = resolve(s.target)
    params = inspect.signature(cls).parameters
    missing = [
        p.name
        for p in list(params.values())[1:]
        if p.default is inspect.Parameter.empty
        and p.kind is not inspect.Parameter.VAR_KEYWORD
        and offered.get(p.name) is None
    ]
    if missing:
        raise ConfigError(
            f"driver {s.key!r} needs {', '.join(missing)}, which the profile does not give",
            device=name,
            hint=f"set them in the device's section, or give {s.key!r} a typed builder",
        )
    return cls(name, **{k: v for k, v in offered.items() if k in params and v is not None})
