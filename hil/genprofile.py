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
from collections.abc import Iterable, Iterator
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
    """Old port → new free port, consistently, for one profile (never one of `avoid`)."""

    def __init__(self, avoid: Iterable[int] = ()) -> None:
        self._map: dict[tuple[str, int], int] = {}
        self._held: list[socket.socket] = []
        self._avoid = set(avoid)

    def get(self, old: int, kind: str = "tcp") -> int:
        key = (kind, old)
        if key not in self._map:
            self._map[key] = self._allocate(kind)
        return self._map[key]

    def fresh(self, kind: str = "tcp") -> int:
        """A free port no other device of the profile has."""
        return self._allocate(kind)

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
            if port in self._avoid:
                continue
            s = socket.socket(socket.AF_INET, family)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            self._held.append(s)
            self._avoid.add(port)
            return port
        s = socket.socket(socket.AF_INET, family)
        s.bind(("127.0.0.1", 0))
        self._held.append(s)
        self._avoid.add(int(s.getsockname()[1]))
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


# ---------------------------------------------------------------------- localizing a profile

LOCAL = "127.0.0.1"
#: the variable every secret of a localized profile reads (as the demo profile's do)
DEMO_SECRET_ENV = "MCU_CONTROL_DEMO_SECRET"
#: first line of a localized profile: the CLI recognises it (and sets the demo secret)
RIG_MARKER = "# Localized for the simulated rig (hil.genprofile.localize)"
_SIP_URI = re.compile(r"^(?P<scheme>sips?):(?:(?P<user>[^@;]+)@)?[^;]+(?P<params>;.*)?$")
_LOCAL_PORTS = re.compile(r"(?:port: |127\.0\.0\.1:)(\d{2,5})\b")


def localize(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a profile whose every device is served by the simulated rig on 127.0.0.1.

    Each device not already on 127.0.0.1 with a port of its own gets one (codec and recorder
    SIP addresses become `sip:<user>@127.0.0.1:<port>`, as in the demo profile); every MCU
    talks plain HTTP and gets a cascade dial string `sip:<numeric id>@127.0.0.1:<port>` of
    its own (so the rig knows which MCU a cascade call reaches); the upstream (national
    office) address becomes `sip:<user>@127.0.0.1:<port>`; every secret reference reads
    MCU_CONTROL_DEMO_SECRET; the MQTT feed is the embedded broker. Devices already local keep
    their ports, so the demo profile comes back unchanged but for the MCU's dial string.
    """
    out = copy.deepcopy(data)
    ports = PortMap(avoid=(int(m) for m in _LOCAL_PORTS.findall(yaml.safe_dump(out))))
    for point in out["points"]:
        codec = point["codec"]
        kind = "tcp" if codec.get("driver") == "h323" or codec.get("transport") == "tcp" else "udp"
        _local_call(codec, ports, kind, default_user=point["id"])
        for alt in codec.get("alternates") or []:
            alt["address"] = _local_address(alt["address"], LOCAL, ports.fresh(), point["id"])
        for cam in point.get("cameras") or []:
            _local_device(cam, ports, "udp" if cam.get("driver") == "visca-ip" else "tcp")
        mixer = point.get("mixer")
        if mixer:
            _local_device(mixer, ports, "udp" if mixer.get("driver") == "snmp" else "tcp")
        if point.get("mcu"):
            _local_mcu(point["mcu"], ports)
        if point.get("recorder"):
            recorder = point["recorder"]
            _local_call(recorder, ports, "udp", default_user=recorder.get("id", "recorder"))
            storage = recorder.get("storage")
            if storage and Path(str(storage.get("directory", ""))).is_absolute():
                storage["directory"] = "recordings"  # under the rig's state directory
    for mcu in out.get("mcus") or []:
        _local_mcu(mcu, ports)
    upstream = out.get("upstream")
    if upstream:
        kind = "udp" if upstream.get("protocol", "sip") == "sip" else "tcp"
        upstream["address"] = _local_address(
            upstream["address"], LOCAL, ports.fresh(kind), "trung-uong"
        )
    mqtt = out.get("mqtt") or {}
    out["mqtt"] = {"url": None, "protocol": mqtt.get("protocol", "5")}
    if "prefix" in mqtt:
        out["mqtt"]["prefix"] = mqtt["prefix"]
    _demo_secrets(out)
    ports.release()
    return out


def write_localized(data: dict[str, Any], path: Path) -> Path:
    """Write a localized profile to `path`, marked as such on its first line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(f"{RIG_MARKER}\n{text}", encoding="utf-8")
    return path


def is_localized(path: Path) -> bool:
    """Whether `path` is a profile `write_localized` wrote (its devices are all simulated)."""
    try:
        with path.open(encoding="utf-8") as f:
            return f.readline().rstrip("\n") == RIG_MARKER
    except (OSError, UnicodeDecodeError):
        return False


def _is_local(section: dict[str, Any]) -> bool:
    return section.get("host") == LOCAL and isinstance(section.get("port"), int)


def _local_device(section: dict[str, Any], ports: PortMap, kind: str) -> None:
    """host/port (or a serial line as socket://127.0.0.1:PORT) on a port of its own."""
    serial = section.get("serial")
    if serial:
        if not _SOCKET_URL.match(str(serial.get("port", ""))):
            serial["port"] = f"socket://{LOCAL}:{ports.fresh()}"
        return
    if not _is_local(section):
        section["host"] = LOCAL
        section["port"] = ports.fresh(kind)


def _local_call(section: dict[str, Any], ports: PortMap, kind: str, *, default_user: str) -> None:
    """A codec or recorder: host/port on 127.0.0.1 and its address pointing there."""
    if _is_local(section):
        return
    section["host"] = LOCAL
    section["port"] = ports.fresh(kind)
    section["address"] = _local_address(section["address"], LOCAL, section["port"], default_user)


def _local_address(address: str, host: str, port: int, default_user: str) -> str:
    """`sip:user@elsewhere` -> `sip:user@host:port`; anything else (H.323) -> `host:port`."""
    m = _SIP_URI.match(address)
    if m is None:
        return f"{host}:{port}"
    user = m.group("user") or default_user
    return f"{m.group('scheme')}:{user}@{host}:{port}{m.group('params') or ''}"


def _local_mcu(mcu: dict[str, Any], ports: PortMap) -> None:
    """An MCU on plain HTTP at 127.0.0.1, with a cascade dial string that names its port."""
    if not _is_local(mcu):
        mcu["host"] = LOCAL
        mcu["port"] = ports.fresh()
    mcu["tls"] = False
    for key in ("ca_file", "verify_tls"):
        mcu.pop(key, None)
    numeric = str((mcu.get("conference") or {}).get("numeric_id") or "")
    given = mcu.get("cascade_address")
    m = _SIP_URI.match(given) if given else None
    user = (m.group("user") if m else None) or numeric
    if user:
        mcu["cascade_address"] = f"sip:{user}@{LOCAL}:{ports.fresh('udp')}"


def _demo_secrets(node: Any) -> None:
    """Point every secret reference ({env: …} or {file: …}) at the demo secret variable."""
    if isinstance(node, list):
        for item in node:
            _demo_secrets(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict) and value and set(value) <= {"env", "file"}:
                node[key] = {"env": DEMO_SECRET_ENV}
            else:
                _demo_secrets(value)


def needs_localizing(data: dict[str, Any]) -> bool:
    """Whether the rig cannot serve `data` as it is (some device is not on a local port).

    A profile with one MCU whose devices are all local (the demo) is served as it is: the
    cascade dial string `localize` would add matters only between several MCUs.
    """
    local = localize(data)
    mcus = [p["mcu"] for p in local["points"] if p.get("mcu")] + list(local.get("mcus") or [])
    originals = [p["mcu"] for p in data["points"] if p.get("mcu")] + list(data.get("mcus") or [])
    if len(mcus) == 1 and "cascade_address" not in originals[0]:
        mcus[0].pop("cascade_address", None)
    return local != data
