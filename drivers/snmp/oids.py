"""SNMP object identifiers and the pure evaluation of what an agent answered (no I/O).

Standard MIBs (docs/protocols/snmp.md §1): SNMPv2-MIB system group, IF-MIB ifOperStatus,
ENTITY-SENSOR-MIB entPhySensorTable. Vendor OIDs come from the device model.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.errors import (
    AuthenticationError,
    DeviceBusyError,
    DeviceError,
    InvalidParameterError,
    NotFoundError,
)
from devices.health import Health

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2.{index}"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8.{index}"
SENSOR_TYPE = "1.3.6.1.2.1.99.1.1.1.1.{index}"
SENSOR_SCALE = "1.3.6.1.2.1.99.1.1.1.2.{index}"
SENSOR_PRECISION = "1.3.6.1.2.1.99.1.1.1.3.{index}"
SENSOR_VALUE = "1.3.6.1.2.1.99.1.1.1.4.{index}"
SENSOR_OPER_STATUS = "1.3.6.1.2.1.99.1.1.1.5.{index}"
SENSOR_UNITS = "1.3.6.1.2.1.99.1.1.1.6.{index}"

IF_STATUS = {
    1: "up",
    2: "down",
    3: "testing",
    4: "unknown",
    5: "dormant",
    6: "notPresent",
    7: "lowerLayerDown",
}
SENSOR_STATUS = {1: "ok", 2: "unavailable", 3: "nonoperational"}
#: entPhySensorScale: 9 is units; each step is a factor of 1000
_UNITS_SCALE = 9

Reading = int | str | None  # None: noSuchInstance/noSuchObject

#: RFC 3416 error-status names by meaning, with what the technician should do
ERROR_STATUS: dict[str, tuple[type[DeviceError], str | None]] = {
    "noAccess": (
        AuthenticationError,
        "these credentials may not write this OID: a read-only community, or an SNMPv3 user "
        "whose view does not allow it; use the device's read-write community/user",
    ),
    "authorizationError": (
        AuthenticationError,
        "the agent refused these credentials for this request; check the community/user",
    ),
    "notWritable": (
        InvalidParameterError,
        "the OID is read-only on this device; fix the model file",
    ),
    "readOnly": (InvalidParameterError, "the OID is read-only on this device; fix the model file"),
    "noCreation": (
        NotFoundError,
        "the OID does not exist on this device and cannot be created; check the model file",
    ),
    "noSuchName": (NotFoundError, "the OID does not exist on this device; check the model file"),
    "inconsistentName": (NotFoundError, "the OID does not exist on this device"),
    "wrongValue": (InvalidParameterError, "the value is outside what the device accepts"),
    "badValue": (InvalidParameterError, "the value is outside what the device accepts"),
    "wrongType": (
        InvalidParameterError,
        "the OID holds another type than the model says; check the model file",
    ),
    "wrongLength": (InvalidParameterError, None),
    "wrongEncoding": (InvalidParameterError, None),
    "inconsistentValue": (InvalidParameterError, "the device refuses this value now"),
    "resourceUnavailable": (DeviceBusyError, "the agent is out of resources; try again"),
}


def status_meaning(label: str) -> tuple[type[DeviceError], str | None]:
    """The error class and hint of an SNMP error-status name (genErr etc.: plain DeviceError)."""
    return ERROR_STATUS.get(label, (DeviceError, None))


def expand(template: str, index: int) -> str:
    """A model OID template with its ``{index}`` filled and the OID checked for shape."""
    oid = template.format(index=index)
    check(oid)
    return oid


def check(oid: str) -> str:
    """`oid` if it is dotted decimal; ValueError otherwise."""
    parts = oid.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{oid!r} is not a numeric OID")
    return oid


def health_oids(interfaces: list[int], sensors: list[int], *, metadata: bool = True) -> list[str]:
    """Everything one health reading asks for, in one GET.

    Without `metadata`, only what changes while the agent runs: sysDescr and each sensor's
    scale, precision and units (ENTITY-SENSOR-MIB: fixed for the sensor) come from an
    earlier full reading (`metadata_of`).
    """
    oids = [SYS_DESCR, SYS_UPTIME] if metadata else [SYS_UPTIME]
    oids += [IF_OPER_STATUS.format(index=i) for i in interfaces]
    for s in sensors:
        oids += [t.format(index=s) for t in (SENSOR_VALUE, SENSOR_OPER_STATUS)]
        if metadata:
            oids += [t.format(index=s) for t in (SENSOR_SCALE, SENSOR_PRECISION, SENSOR_UNITS)]
    return oids


def metadata_of(values: dict[str, Reading], sensors: list[int]) -> dict[str, Reading]:
    """The constant part of a full health reading (see `health_oids`)."""
    wanted = [SYS_DESCR]
    for s in sensors:
        wanted += [t.format(index=s) for t in (SENSOR_SCALE, SENSOR_PRECISION, SENSOR_UNITS)]
    return {oid: values.get(oid) for oid in wanted}


@dataclass(frozen=True, slots=True)
class SensorReading:
    index: int
    value: float | None
    units: str
    status: str


def sensor(values: dict[str, Reading], index: int) -> SensorReading:
    """One ENTITY-SENSOR row: value scaled by entPhySensorScale and entPhySensorPrecision."""
    raw = values.get(SENSOR_VALUE.format(index=index))
    scale = values.get(SENSOR_SCALE.format(index=index))
    precision = values.get(SENSOR_PRECISION.format(index=index))
    status = values.get(SENSOR_OPER_STATUS.format(index=index))
    units = values.get(SENSOR_UNITS.format(index=index))
    value: float | None = None
    if isinstance(raw, int):
        factor = 1000.0 ** ((scale if isinstance(scale, int) else _UNITS_SCALE) - _UNITS_SCALE)
        value = raw * factor / 10 ** (precision if isinstance(precision, int) else 0)
    return SensorReading(
        index,
        value,
        units if isinstance(units, str) else "",
        SENSOR_STATUS.get(status, "missing") if isinstance(status, int) else "missing",
    )


#: sysUpTime may run a little slow against our clock; ignore this much of a shortfall
UPTIME_DRIFT = 0.01
UPTIME_SLACK_CS = 500


def rebooted(uptime: int, previous: int, elapsed_s: float) -> bool:
    """True when `uptime` (centiseconds) is too small to follow `previous`, `elapsed_s` later."""
    expected = previous + round(max(elapsed_s, 0.0) * 100)
    slack = UPTIME_SLACK_CS + round(UPTIME_DRIFT * max(elapsed_s, 0.0) * 100)
    return uptime < expected - slack


def evaluate(
    values: dict[str, Reading],
    *,
    interfaces: list[int],
    sensors: list[int],
    previous_uptime: int | None,
    elapsed_s: float = 0.0,
) -> Health:
    """Health from one reading: interfaces not up, sensors not ok, or a reboot → degraded.

    `previous_uptime` was read `elapsed_s` ago (perhaps before an outage): an agent that did
    not restart now reads at least that much more, less a little for clock drift.
    """
    uptime = values.get(SYS_UPTIME)
    descr = values.get(SYS_DESCR)
    details: dict[str, str | int | float | bool | None] = {
        "sys_descr": descr if isinstance(descr, str) else None,
        "uptime_s": uptime / 100 if isinstance(uptime, int) else None,
    }
    problems: list[str] = []
    if (
        isinstance(uptime, int)
        and previous_uptime is not None
        and rebooted(uptime, previous_uptime, elapsed_s)
    ):
        problems.append(
            f"rebooted (uptime {uptime / 100:.0f} s, was {previous_uptime / 100:.0f} s)"
        )
        details["rebooted"] = True
    for i in interfaces:
        status = values.get(IF_OPER_STATUS.format(index=i))
        name = IF_STATUS.get(status, "missing") if isinstance(status, int) else "missing"
        details[f"if{i}"] = name
        if name != "up":
            problems.append(f"interface {i} is {name}")
    for s in sensors:
        reading = sensor(values, s)
        details[f"sensor{s}"] = reading.value
        if reading.units:
            details[f"sensor{s}_units"] = reading.units
        if reading.status != "ok":
            problems.append(f"sensor {s} is {reading.status}")
    if problems:
        return Health.degraded("; ".join(problems), **details)
    return Health.ok("answering", **details)
