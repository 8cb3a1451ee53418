"""Test helpers for the MQTT feed: a real mosquitto on a free port, and a recording subscriber."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mosquitto:
    """A mosquitto process with a config written to `workdir`; restartable on the same ports."""

    workdir: Path
    port: int = field(default_factory=free_port)
    ws_port: int | None = None
    password: dict[str, str] | None = None  # user -> password
    acl: str | None = None
    tls: dict[str, Path] | None = None  # cafile, certfile, keyfile (+ require_certificate)
    require_certificate: bool = False
    extra_conf: str = ""  # appended as is: more listeners, a bridge (`connection …`) section
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = ["per_listener_settings false", "persistence false", "log_dest stderr"]
        lines += ["log_type error", "log_type warning", "log_type notice"]
        lines += [f"listener {self.port} 127.0.0.1"]
        if self.tls is not None:
            lines += [
                f"cafile {self.tls['cafile']}",
                f"certfile {self.tls['certfile']}",
                f"keyfile {self.tls['keyfile']}",
                f"require_certificate {'true' if self.require_certificate else 'false'}",
            ]
        if self.ws_port is not None:
            lines += [f"listener {self.ws_port} 127.0.0.1", "protocol websockets"]
        if self.password is not None:
            pwfile = self.workdir / "passwd"
            pwfile.write_text("")
            for user, pw in self.password.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(pwfile), user, pw],
                    check=True,
                    capture_output=True,
                )
            lines += [f"password_file {pwfile}", "allow_anonymous false"]
        else:
            lines += ["allow_anonymous true"]
        if self.acl is not None:
            aclfile = self.workdir / "acl"
            aclfile.write_text(self.acl)
            lines += [f"acl_file {aclfile}"]
        if self.extra_conf:
            lines += [self.extra_conf]
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._chown_for_broker()
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._wait_listening(self.port)
        if self.ws_port is not None:
            self._wait_listening(self.ws_port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None

    def url(self, scheme: str = "mqtt") -> str:
        host = "localhost" if scheme == "mqtts" else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}"

    def _chown_for_broker(self) -> None:
        """As root mosquitto drops to user `mosquitto` before reading pw/ACL/key files."""
        if os.geteuid() != 0:
            return
        try:
            user = pwd.getpwnam("mosquitto")
        except KeyError:
            return
        for path in [self.workdir, *self.workdir.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
        for parent in self.workdir.parents:  # tmp dirs must be traversable
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)

    def _wait_listening(self, port: int) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {port}")


@contextmanager
def mosquitto(workdir: Path, **kwargs: Any) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists() and shutil.which("mosquitto") is None:
        import pytest

        pytest.skip("mosquitto is not installed (scripts/system-deps.sh installs it)")
    broker = Mosquitto(workdir, **kwargs)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class Recorder:
    """A paho subscriber that records every message (thread-safe), for assertions."""

    def __init__(
        self,
        port: int,
        topics: list[str],
        *,
        username: str | None = None,
        password: str | None = None,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
        client_id: str = "",
    ) -> None:
        self.messages: list[tuple[str, bytes, bool, Properties | None]] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self._topics = topics
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("subscriber did not subscribe")

    def _on_connect(self, client: mqtt.Client, *_a: Any) -> None:
        client.subscribe([(t, 1) for t in self._topics])

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain), msg.properties))
            self._cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> Any:
        """Wait until predicate(messages) is truthy and return its value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self.messages)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    topics = sorted({t for t, *_ in self.messages})
                    raise AssertionError(f"timed out; topics seen: {topics}")
                self._cond.wait(remaining)

    def latest(self, topic: str) -> dict[str, Any] | str | None:
        with self._cond:
            for t, payload, *_ in reversed(self.messages):
                if t == topic:
                    text = payload.decode()
                    try:
                        return json.loads(text)  # type: ignore[no-any-return]
                    except json.JSONDecodeError:
                        return text
        return None

    def reply(self, request_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """The first recorded JSON message whose `id` is `request_id` (a command's reply)."""

        def answered(msgs: list[Any]) -> Any:
            for _t, payload, *_ in msgs:
                body = json.loads(payload) if payload.startswith(b"{") else {}
                if body.get("id") == request_id:
                    return body
            return None

        found: dict[str, Any] = self.wait_for(answered, timeout)
        return found

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_pki(d: Path, client_cn: str = "client") -> dict[str, Path]:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate `client_cn`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("mcu-control test CA"))
        .issuer_name(name("mcu-control test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    out = {"cafile": d / "ca.pem"}
    out["cafile"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for who, cn, san in (
        (
            "server",
            "server",
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        ),
        ("client", client_cn, [x509.DNSName("feed")]),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        (d / f"{who}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_key(key, d / f"{who}.key")
    out |= {"certfile": d / "server.pem", "keyfile": d / "server.key"}
    out |= {"client_cert": d / "client.pem", "client_key": d / "client.key"}
    return out
