"""Profiles for the simulated rig: the demo site on free ports, or a generated N-point site.

Tests and benchmarks must not depend on the demo's fixed ports (a running demo, or another
test, may hold them), so every 127.0.0.1 port of the demo is remapped to one the kernel
says is free. For scale tests, the demo's component points are cloned up to N points.
"""

from __future__ import annotations

import copy
import itertools
import random
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from profiles.loader import SHIPPED_SITES

_SOCKET_URL = re.compile(r"^socket://127\.0\.0\.1:(\d+)$")
_SIP_PORT = re.compile(r"^(sips?:[^@]+@127\.0\.0\.1):(\d+)$")


def demo_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SHIPPED_SITES / "demo.yaml").read_text(encoding="utf-8"))
    return data


def scaled(data: dict[str, Any], points: int) -> dict[str, Any]:
    """The demo with `points` points: the central point plus clones of the 8 component points."""
    out = copy.deepcopy(data)
    central = out["points"][0]
    templates = out["points"][1:]
    new = [central]
    used = {int(m) for m in re.findall(r"(?:port: |:)(\d{2,5})\b", yaml.safe_dump(data))}
    fresh = (n for n in range(20000, 65536) if n not in used)
    for i in range(points - 1):
        p = copy.deepcopy(templates[i % len(templates)])
        if i >= len(templates):
            p["id"] = f"{p['id'][:40]}-{i // len(templates)}"
            p["name"] = f"{p['name']} #{i // len(templates)}"
            p["codec"]["address"] = p["codec"]["address"].replace("sip:", f"sip:{i}-", 1)
            _own_ports(p, fresh)
        new.append(p)
    out["points"] = new
    return out


def _own_ports(point: dict[str, Any], fresh: Iterator[int]) -> None:
    """Give a cloned point ports of its own (remap_ports maps equal old ports to one new port)."""
    sections = [point["codec"], *point["cameras"], point.get("mixer") or {}]
    for section in sections:
        old = section.get("port")
        if isinstance(old, int):
            section["port"] = next(fresh)
            address = section.get("address")
            if isinstance(address, str) and address.endswith(f":{old}"):
                section["address"] = f"{address[: -len(str(old))]}{section['port']}"
        serial = section.get("serial")
        if serial and _SOCKET_URL.match(serial.get("port", "")):
            serial["port"] = f"socket://127.0.0.1:{next(fresh)}"


class PortMap:
    """Old port → new free port, consistently, for one profile."""

    def __init__(self) -> None:
        self._map: dict[tuple[str, int], int] = {}
        self._held: list[socket.socket] = []

    def get(self, old: int, kind: str = "tcp") -> int:
        key = (kind, old)
        if key not in self._map:
            self._map[key] = self._allocate(kind)
        return self._map[key]

    def release(self) -> None:
        """Let the simulators bind the ports (held until now so no two entries collide)."""
        for s in self._held:
            s.close()
        self._held.clear()

    def _allocate(self, kind: str) -> int:
        family = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
        # Outside the kernel's ephemeral range: between release() and the simulators' bind,
        # no outgoing connection (of this or any other process) can be handed the port.
        for _ in range(_PRIVATE_PORTS.stop - _PRIVATE_PORTS.start):
            port = next(_cursor)
            s = socket.socket(socket.AF_INET, family)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            self._held.append(s)
            return port
        s = socket.socket(socket.AF_INET, family)
        s.bind(("127.0.0.1", 0))
        self._held.append(s)
        return int(s.getsockname()[1])


def _private_ports() -> range:
    """20000 up to the start of the ephemeral range (Linux: 32768)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(20000, max(low, 20001))


_PRIVATE_PORTS = _private_ports()
_cursor = itertools.cycle(
    itertools.chain(
        range(
            start := random.randrange(_PRIVATE_PORTS.start, _PRIVATE_PORTS.stop),
            _PRIVATE_PORTS.stop,
        ),
        range(_PRIVATE_PORTS.start, start),
    )
)


def remap_ports(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a rig profile with every 127.0.0.1 port replaced by a free one."""
    out = copy.deepcopy(data)
    ports = PortMap()
    for point in out["points"]:
        codec = point["codec"]
        _remap_sip(codec, ports)
        for cam in point["cameras"]:
            kind = "udp" if cam["driver"] == "visca-ip" else "tcp"
            if "port" in cam:
                cam["port"] = ports.get(cam["port"], kind)
            if cam.get("serial"):
                cam["serial"]["port"] = _remap_url(cam["serial"]["port"], ports)
        mixer = point.get("mixer")
        if mixer:
            if "port" in mixer:
                mixer["port"] = ports.get(
                    mixer["port"], "udp" if mixer["driver"] == "snmp" else "tcp"
                )
            if mixer.get("serial"):
                mixer["serial"]["port"] = _remap_url(mixer["serial"]["port"], ports)
        if point.get("mcu") and "port" in point["mcu"]:
            point["mcu"]["port"] = ports.get(point["mcu"]["port"])
        if point.get("recorder"):
            _remap_sip(point["recorder"], ports)
    ports.release()
    return out


def write_profile(data: dict[str, Any], directory: Path, name: str = "rig.yaml") -> Path:
    """Write a profile under <directory>/sites/ (so shipped models resolve) and return its path."""
    sites = directory / "sites"
    sites.mkdir(parents=True, exist_ok=True)
    path = sites / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _remap_sip(section: dict[str, Any], ports: PortMap) -> None:
    old = section.get("port")
    if old is None:
        return
    new = ports.get(old, "udp")
    section["port"] = new
    m = _SIP_PORT.match(section["address"])
    if m and int(m.group(2)) == old:
        section["address"] = f"{m.group(1)}:{new}"


def _remap_url(url: str, ports: PortMap) -> str:
    m = _SOCKET_URL.match(url)
    return f"socket://127.0.0.1:{ports.get(int(m.group(1)))}" if m else url
