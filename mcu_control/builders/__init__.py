"""Turn profile sections into driver objects.

Drivers import only `devices`, never `profiles`; these builders are where a profile's
configuration (secrets resolved, model data unpacked into plain values) meets a driver's
constructor. `build(kind, key, loaded, point, cfg)` is the one generic entry: it looks the key
up in `drivers/registry.py` and calls that driver's typed builder — a function here that
constructs the concrete class with checked arguments:

- `mcu.build_codian`, `mcu.build_rmx` (and `mcu.build(loaded)` for the central point's MCU)
- `camera.build_onvif`, `camera.build_visca`
- `mixer.build_tesira`, `mixer.build_snmp`
- `codec.build_sip`, `codec.build_h323` (also the recorder's reachability)

Device names passed to drivers are "<point id>.<device id>" so every error names the device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drivers.registry import resolve, spec

if TYPE_CHECKING:
    from devices.interfaces import Device


def build(kind: str, key: str, *args: Any) -> Device:
    """The driver for `key` (an `kind` interface: "PtzCamera", "AudioMixer", "Mcu", "Codec")."""
    from devices.interfaces import Device

    s = spec(kind, key)
    device = resolve(s.build)(*args)
    if not (isinstance(device, Device) and isinstance(device, s.interface)):
        raise TypeError(f"{s.build} built {type(device).__name__}, not a {kind}")
    return device
