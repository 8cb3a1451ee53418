"""Run snmpsim (a real third-party SNMP agent) as a subprocess serving our DSP data.

snmpsim facts (DESIGN.md §6): the community, and the SNMPv3 context name, is the data file's
name — so the file is called `agent.snmprec` and `snmpsim_launch` maps that name to the
community it reads on stdin (a secret never sits in a file name); ``--v3-engine-id`` must come first; SETs work on ``writecache`` OIDs; as root it needs
``SNMPSIM_ALLOW_ROOT=true``. One process may listen on several UDP endpoints, but its
writecache values are per process and keyed by OID only, so two endpoints of one process would
share every mute and level: by default each endpoint gets its own process (its own device).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "snmp"
DEFAULT_DATA = DATA_DIR / "qsys-core.snmprec"
ENGINE_ID = "8000000001020304"


class SnmpAgent:
    """snmpsim on `endpoints`, answering `community` (and SNMPv3 `v3_user`, context = community)."""

    def __init__(
        self,
        *,
        endpoints: list[tuple[str, int]],
        community: str,
        v3_user: str | None = None,
        auth_key: str | None = None,
        priv_key: str | None = None,
        auth_protocol: str = "SHA",
        priv_protocol: str = "AES",
        data_file: Path = DEFAULT_DATA,
        start_timeout_s: float = 20.0,
        shared_state: bool = False,
        uptime_s: float = 86400.0,
        read_only_community: str | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("SnmpAgent needs at least one endpoint")
        self.endpoints = list(endpoints)
        self.community = community
        self.v3_user = v3_user
        self.auth_key = auth_key
        self.priv_key = priv_key
        self.auth_protocol = auth_protocol
        self.priv_protocol = priv_protocol
        self.data_file = data_file
        self.start_timeout_s = start_timeout_s
        #: True: one process for every endpoint (one device state); False: a process per endpoint
        self.shared_state = shared_state
        #: sysUpTime when the agent starts (it then counts up in real time)
        self.uptime_s = uptime_s
        #: a second community that may read everything and write nothing: a SET answers
        #: noAccess (RFC 3416 §4.2.5: the variable is not in the community's write view)
        self.read_only_community = read_only_community
        self._procs: list[subprocess.Popen[bytes]] = []
        self._groups: list[list[tuple[str, int]]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        # start and stop from different threads (a signal during start-up): one at a time
        self._lock = threading.Lock()

    @property
    def context(self) -> str:
        """The SNMPv3 context name snmpsim serves the data under."""
        return self.community

    async def start(self) -> None:
        """Start snmpsim and return once the first endpoint answers a GET."""
        await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)

    def start_sync(self) -> None:
        """The blocking form of `start` (for module-scoped fixtures and scripts)."""
        with self._lock:
            self._tmp = tempfile.TemporaryDirectory(prefix="snmpsim-")
            self._groups = [self.endpoints] if self.shared_state else [[e] for e in self.endpoints]
            try:
                for i, group in enumerate(self._groups):
                    self._procs.append(self._spawn(i, group, self.uptime_s))
                for proc, group in zip(self._procs, self._groups, strict=True):
                    self._wait_ready(proc, group[0])
            except BaseException:
                self._stop_locked()
                raise

    async def reboot(self, endpoint: int = 0) -> None:
        """Restart the process serving `endpoints[endpoint]`: sysUpTime starts again near 0."""
        await asyncio.to_thread(self.reboot_sync, endpoint)

    def reboot_sync(self, endpoint: int = 0) -> None:
        with self._lock:
            target = self.endpoints[endpoint]
            i = next(n for n, group in enumerate(self._groups) if target in group)
            old = self._procs[i]
            old.terminate()
            old.wait(timeout=5)
            if old.stderr is not None:
                old.stderr.close()
            self._procs[i] = self._spawn(i, self._groups[i], 0.0)
            self._wait_ready(self._procs[i], self._groups[i][0])

    def stop_sync(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        procs, self._procs = self._procs, []
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _spawn(
        self, index: int, endpoints: list[tuple[str, int]], uptime_s: float
    ) -> subprocess.Popen[bytes]:
        assert self._tmp is not None
        base = Path(self._tmp.name) / f"agent{index}"
        data = base / "data"
        data.mkdir(parents=True, exist_ok=True)
        text = self.data_file.read_text(encoding="utf-8")
        text = re.sub(
            r"^1\.3\.6\.1\.2\.1\.1\.3\.0\|.*$",
            f"1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial={int(uptime_s * 100)}",
            text,
            flags=re.M,
        )
        (data / "agent.snmprec").write_text(text, encoding="utf-8")
        if self.read_only_community:
            read_only = re.sub(
                r"^([0-9.]+)\|(\d+):writecache\|value=([^,\n]*).*$",
                r"\1|\2:error|op=set,status=noaccess,value=\3",
                text,
                flags=re.M,
            )
            (data / "agent-ro.snmprec").write_text(read_only, encoding="utf-8")
        cache = base / "cache"
        shutil.rmtree(cache, ignore_errors=True)  # the index must see the new data
        args = [
            f"--v3-engine-id={ENGINE_ID}",
            f"--data-dir={data}",
            f"--cache-dir={cache}",
            "--logging-method=null",
        ]
        args += [f"--agent-udpv4-endpoint={h}:{p}" for h, p in endpoints]
        if self.v3_user:
            args += [
                f"--v3-user={self.v3_user}",
                f"--v3-auth-key={self.auth_key}",
                f"--v3-auth-proto={self.auth_protocol}",
                f"--v3-priv-key={self.priv_key}",
                f"--v3-priv-proto={self.priv_protocol}",
            ]
        require_snmpsim()  # exit 3 naming the extra when snmpsim is not installed
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), *filter(None, [env.get("PYTHONPATH")])]
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "hil.sim.snmpsim_launch", *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None
        # never argv, env or a file name: the community, then the read-only one (or nothing)
        proc.stdin.write(f"{self.community}\n{self.read_only_community or ''}\n".encode())
        proc.stdin.close()
        return proc

    def _wait_ready(self, proc: subprocess.Popen[bytes], endpoint: tuple[str, int]) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        host, port = endpoint
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr is not None else b""
                raise RuntimeError(f"snmpsim exited: {err.decode(errors='replace')[-800:]}")
            if _answers(host, port, self.community):
                return
        raise RuntimeError(
            f"snmpsim did not answer on {host}:{port} within {self.start_timeout_s} s"
        )


SIM_EXTRA = "pip install 'mcu-control[sim]'"


def require_snmpsim() -> str:
    """The snmpsim command to run; ConfigError (exit 3) naming the extra when it is missing."""
    import importlib.util
    import shutil

    from devices.errors import ConfigError

    missing = [
        m for m in ("snmpsim", "pysmi", "cryptography") if importlib.util.find_spec(m) is None
    ]
    exe = Path(sys.executable).parent / "snmpsim-command-responder"
    command = str(exe) if exe.exists() else shutil.which("snmpsim-command-responder")
    if missing or command is None:
        what = ", ".join(missing) if missing else "the snmpsim-command-responder program"
        raise ConfigError(
            f"the simulated rig needs {what} (its SNMP agents are snmpsim processes)",
            hint=f"install the simulator extra: {SIM_EXTRA}",
        )
    return command


def _answers(host: str, port: int, community: str) -> bool:
    """One SNMPv2c GET of sysUpTime.0; True if any datagram comes back within 0.3 s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        try:
            s.sendto(v2c_get_packet(community, "1.3.6.1.2.1.1.3.0"), (host, port))
            s.recvfrom(4096)
        except OSError:
            time.sleep(0.1)
            return False
        return True


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def _oid(text: str) -> bytes:
    parts = [int(p) for p in text.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        rest = part >> 7
        chunk = [part & 0x7F]
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def v2c_get_packet(community: str, oid: str) -> bytes:
    """A BER-encoded SNMPv2c GET of one OID (request id 1), built without any SNMP library."""
    varbind = _tlv(0x30, _oid(oid) + b"\x05\x00")
    pdu = _tlv(0xA0, _tlv(2, b"\x01") + _tlv(2, b"\x00") + _tlv(2, b"\x00") + _tlv(0x30, varbind))
    return _tlv(0x30, _tlv(2, b"\x01") + _tlv(4, community.encode()) + pdu)
