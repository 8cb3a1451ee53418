"""Per-device memory that must outlive one driver instance (a reconnect, a rebuilt `Site`).

A driver is a one-shot connection: after an outage the supervisor (or the next CLI read)
builds a new one. What a device's history tells us — the last sysUpTime for reboot detection,
the last position a camera reported — must not be lost with it, so drivers keep it here,
keyed by device name and address, for the life of the process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from devices.interfaces import PtzPosition


@dataclass
class Uptime:
    """One uptime reading: the device's counter and our monotonic clock when it was read."""

    centiseconds: int
    read_at: float


@dataclass
class Seen:
    """The last position a camera reported, and our monotonic clock when it was read."""

    position: PtzPosition
    read_at: float


@dataclass
class DeviceMemory:
    """What one device's driver instances share, one after the other."""

    last_uptime: Uptime | None = None
    #: a camera's last reported position (VISCA: every status read)
    last_position: Seen | None = None


class MemoryStore:
    """Device memories by key; one per process (`MEMORY`), or one per test."""

    def __init__(self) -> None:
        self._memories: dict[tuple[str, ...], DeviceMemory] = {}
        self._lock = threading.Lock()

    def for_device(self, name: str, *address: str | int) -> DeviceMemory:
        """The memory of device `name` at `address` (a new one the first time)."""
        key = (name, *(str(a) for a in address))
        with self._lock:
            return self._memories.setdefault(key, DeviceMemory())

    def forget(self, name: str, *address: str | int) -> None:
        """Drop a device's memory (it was replaced, or a test starts afresh)."""
        with self._lock:
            self._memories.pop((name, *(str(a) for a in address)), None)


#: the process's device memories
MEMORY = MemoryStore()
