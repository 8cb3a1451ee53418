"""Which local ports a rig needs, whether they are free, and who holds a busy one (Linux /proc)."""

from __future__ import annotations

import errno
import os
import re
import socket
from pathlib import Path

_ENDPOINT = re.compile(r"(?:(tcp|udp|tls)\s+)?(?:[a-z]+://)?(\[[0-9a-fA-F:]+\]|[\w.\-]+):(\d{1,5})")


def endpoints_in(address: str) -> list[tuple[str, str, int]]:
    """(proto, host, port) of every `host:port` in a rig address ("udp 127.0.0.1:161, …")."""
    default = "udp" if re.search(r"\budp\b", address, re.IGNORECASE) else "tcp"
    out = []
    for proto, host, port in _ENDPOINT.findall(address):
        p = proto.lower()
        out.append(("tcp" if p == "tls" else (p or default), host.strip("[]"), int(port)))
    return out


def port_busy(proto: str, host: str, port: int) -> bool:
    """Whether binding host:port (TCP or UDP) fails because something already has it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(family, kind) as s:
        if kind == socket.SOCK_STREAM:
            # what asyncio's servers set: a port in TIME_WAIT is not "in use"
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def holder(proto: str, port: int) -> str | None:
    """ "pid 1234 (python3)" for the process bound to `port`, or None if it cannot be seen."""
    inodes: set[str] = set()
    for table in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            if proto == "tcp" and state != "0A":  # LISTEN
                continue
            inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            for fd in fds:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    name = Path(f"/proc/{pid}/comm").read_text().strip()
                    return f"pid {pid} ({name})"
        except OSError:
            continue
    return None
