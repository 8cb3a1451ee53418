"""Where the feed connects and how: broker URL resolution, TLS files and credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from devices.errors import ConfigError

if TYPE_CHECKING:
    from devices.secrets import Secret
    from profiles.loader import LoadedProfile

URL_ENV = "MCU_CONTROL_MQTT_URL"
_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """A parsed broker URL: mqtt://, mqtts:// (TLS), ws:// or wss:// (WebSocket)."""

    scheme: Literal["mqtt", "mqtts", "ws", "wss"]
    host: str
    port: int
    path: str = "/mqtt"
    username: str | None = None

    @property
    def tls(self) -> bool:
        return self.scheme in ("mqtts", "wss")

    @property
    def transport(self) -> Literal["tcp", "websockets"]:
        return "websockets" if self.scheme in ("ws", "wss") else "tcp"

    def __str__(self) -> str:
        path = self.path if self.transport == "websockets" else ""
        return f"{self.scheme}://{self.host}:{self.port}{path}"


def resolve_url(
    profile_url: str | None,
    cli_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """The broker URL to use: `--mqtt-url`, else $MCU_CONTROL_MQTT_URL, else the profile's."""
    environ = os.environ if env is None else env
    for candidate in (cli_url, environ.get(URL_ENV), profile_url):
        if candidate is not None and candidate.strip():
            return candidate.strip()
    return None


def parse_url(url: str) -> BrokerUrl:
    """Parse and check a broker URL; a bad one is a ConfigError that says what is accepted."""
    hint = "use mqtt://host:1883, mqtts://host:8883, ws://host:9001/mqtt or wss://…"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"MQTT URL {url!r} is invalid: {exc}", hint=hint) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ConfigError(f"MQTT URL scheme {parts.scheme!r} is not supported", hint=hint)
    if not parts.hostname:
        raise ConfigError(f"MQTT URL {url!r} has no host", hint=hint)
    if parts.password is not None:
        # never echo the URL itself here: it holds the password
        raise ConfigError(
            "the MQTT URL must not carry a password",
            hint="put the password in mqtt.password as {env: …} or {file: …}",
        )
    return BrokerUrl(
        scheme=scheme,  # type: ignore[arg-type]  # checked against _DEFAULT_PORTS above
        host=parts.hostname,
        port=port or _DEFAULT_PORTS[scheme],
        path=parts.path or "/mqtt",
        username=parts.username or None,
    )


@dataclass(frozen=True, slots=True)
class Connection:
    """Everything the MQTT client needs to connect; compared on reload to decide a reconnect."""

    url: BrokerUrl
    protocol: Literal["5", "3.1.1"]
    username: str | None
    password: Secret | None
    ca_file: Path | None
    client_cert: Path | None
    client_key: Path | None
    keepalive_s: int


def connection_for(
    loaded: LoadedProfile, url: str, *, force_protocol: Literal["5", "3.1.1"] | None = None
) -> Connection:
    """Resolve the profile's mqtt section (secrets, relative paths) for `url`."""
    cfg = loaded.profile.mqtt
    base = loaded.path.parent
    broker = parse_url(url)

    def _path(p: Path | None) -> Path | None:
        if p is None:
            return None
        return p if p.is_absolute() else base / p

    password = cfg.password.resolve(base_dir=base) if cfg.password is not None else None
    username = cfg.username or broker.username
    if password is not None and username is None:
        raise ConfigError("mqtt.password is set but mqtt.username is not", hint="add mqtt.username")
    if not broker.tls and (cfg.ca_file or cfg.client_cert):
        raise ConfigError(
            f"mqtt.ca_file/client_cert are set but the broker URL {broker} is not TLS",
            hint="use an mqtts:// or wss:// URL",
        )
    if (cfg.client_cert is None) != (cfg.client_key is None):
        raise ConfigError(
            "mqtt.client_cert and mqtt.client_key go together", hint="set both or neither"
        )
    return Connection(
        url=broker,
        protocol=force_protocol or cfg.protocol,
        username=username,
        password=password,
        ca_file=_path(cfg.ca_file),
        client_cert=_path(cfg.client_cert),
        client_key=_path(cfg.client_key),
        keepalive_s=cfg.keepalive_s,
    )
