"""Building blocks shared by every part of the profile schema."""

from __future__ import annotations

import os
import re
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from devices.errors import ConfigError
from devices.secrets import Secret

if TYPE_CHECKING:
    from drivers.registry import DriverSpec

#: ids are slugs so they can appear in MQTT topics, file names and CLI arguments
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")]
Port = Annotated[int, Field(ge=1, le=65535)]
Timeout = Annotated[float, Field(gt=0, le=300)]
Host = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9.\-:\[\]]+$", min_length=1, max_length=253)
]


class Strict(BaseModel):
    """Base of every profile section: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SecretRef(Strict):
    """Where a secret lives: an environment variable or a file; never the value itself."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _reject_inline(cls, data: Any) -> Any:
        if isinstance(data, str | int | float):
            raise ValueError(  # noqa: TRY004 — pydantic turns ValueError into a located problem
                "secrets are never written inline; use a reference such as "
                "`{env: MCU_PASSWORD}` or `{file: /etc/mcu-control/secrets/mcu}`"
            )
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference takes exactly one of `env` or `file`")
        return self

    def describe(self) -> str:
        """Where the secret comes from, safe to print."""
        return f"env:{self.env}" if self.env else f"file:{self.file}"

    def resolve(self, *, base_dir: Path | None = None) -> Secret:
        """Read the secret now; a missing source is a ConfigError that says where to put it."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(
                    f"environment variable {self.env} is not set",
                    hint=f"export {self.env}=… in the service environment",
                )
            return Secret(value)
        assert self.file is not None
        path = self.file if self.file.is_absolute() or base_dir is None else base_dir / self.file
        try:
            mode = path.stat().st_mode
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read secret file {path}: {exc.strerror}",
                hint="create it (chmod 600) or fix the path in the profile",
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.warn(
                f"secret file {path} is readable by group or others; run chmod 600 {path}",
                SecretFileModeWarning,
                stacklevel=2,
            )
        return Secret(value)


class SecretFileModeWarning(UserWarning):
    """A secret file is readable by more than its owner."""


class SerialLink(Strict):
    """A serial line: a device path, or a pyserial URL such as socket://127.0.0.1:7000."""

    port: str = Field(min_length=1)
    baudrate: int = Field(default=9600, ge=300, le=921600)
    bytesize: int = Field(default=8, ge=5, le=8)
    parity: str = Field(default="N", pattern=r"^[NEOMS]$")
    stopbits: float = 1


_DURATION_RE = re.compile(r"(\d+)\s*(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """'1d', '2h', '15m', '1h30m' → seconds; anything else is a ValueError."""
    cleaned = text.replace(" ", "")
    if not cleaned or _DURATION_RE.sub("", cleaned):
        raise ValueError(f"{text!r} is not a duration; write e.g. 1d, 2h, 15m or 1h30m")
    return sum(int(n) * _UNITS[u] for n, u in _DURATION_RE.findall(cleaned))


def registered(kind: str) -> Callable[[str], str]:
    """A validator for a `driver:` key: one of `drivers/registry.py`'s keys for interface `kind`.

    Use as `Annotated[str, AfterValidator(registered("PtzCamera"))]`: the registry is the one
    list of driver keys, and an unknown key names the known ones.
    """

    def check(key: str) -> str:
        from drivers.registry import keys

        known = keys(kind)
        if key not in known:
            raise ValueError(f"unknown driver {key!r}; registered: {', '.join(known)}")
        return key

    return check


def registered_protocol(kind: str) -> Callable[[str], str]:
    """A validator for a model file's `protocol:`/`family:`: one some registered driver speaks."""

    def check(protocol: str) -> str:
        from drivers.registry import specs

        known = sorted({s.protocol for s in specs(kind).values()})
        if protocol not in known:
            raise ValueError(f"no registered driver speaks {protocol!r}; known: {', '.join(known)}")
        return protocol

    return check


def driver_spec(kind: str, key: str) -> DriverSpec:
    """The registry's spec of a (validated) driver key."""
    from drivers.registry import spec

    return spec(kind, key)


def check_link(spec: DriverSpec, what: str, fields: dict[str, object]) -> None:
    """Raise ValueError unless `fields` give what the driver's link and requirements need."""
    if spec.link == "serial":
        if fields.get("serial") is None:
            raise ValueError(f"a {spec.key} {what} needs `serial: {{port: /dev/ttyUSB0}}`")
    elif fields.get("host") is None:
        raise ValueError(f"a {spec.key} {what} needs `host`")
    missing = [f"`{name}`" for name in spec.requires if fields.get(name) is None]
    if missing:
        raise ValueError(f"a {spec.key} {what} needs {' and '.join(missing)}")
