"""Capability interfaces, typed results, the health model and the error tree."""

from devices.errors import (
    AuthenticationError,
    ConfigError,
    ConfigProblem,
    DeviceError,
    DeviceTimeoutError,
    McuControlError,
    NotSupported,
    NotSupportedError,
    ProtocolError,
    TransportError,
)
from devices.health import Health, HealthState
from devices.interfaces import (
    AudioMixer,
    CallProtocol,
    CallState,
    Capability,
    Codec,
    ConnectionState,
    Device,
    Mcu,
    PtzCamera,
)

__all__ = [
    "AudioMixer",
    "AuthenticationError",
    "CallProtocol",
    "CallState",
    "Capability",
    "Codec",
    "ConfigError",
    "ConfigProblem",
    "ConnectionState",
    "Device",
    "DeviceError",
    "DeviceTimeoutError",
    "Health",
    "HealthState",
    "Mcu",
    "McuControlError",
    "NotSupported",
    "NotSupportedError",
    "ProtocolError",
    "PtzCamera",
    "TransportError",
]
