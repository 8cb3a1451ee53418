"""One error tree for every device, driver and configuration failure.

Every message names the device it concerns and, where one exists, what the technician
should do next. Secrets never enter a message: drivers redact before raising.
"""

from __future__ import annotations


class McuControlError(Exception):
    """Root of every error mcu-control raises on purpose."""

    def __init__(self, message: str, *, device: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.device = device
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.device}: {self.message}" if self.device else self.message
        if self.hint:
            text = f"{text} — {self.hint}"
        return text

    def to_dict(self) -> dict[str, str | int | None]:
        """Stable machine form for `--json`, MQTT replies and reports."""
        return {
            "error": type(self).__name__,
            "device": self.device,
            "message": self.message,
            "hint": self.hint,
        }


class TransportError(McuControlError):
    """The link to the device failed: refused, reset, closed, serial port gone."""


class DeviceTimeoutError(McuControlError, TimeoutError):
    """The device did not answer within its deadline."""

    def __init__(
        self,
        message: str,
        *,
        device: str | None = None,
        hint: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        super().__init__(message, device=device, hint=hint)
        self.timeout_s = timeout_s


class ProtocolError(McuControlError):
    """The device answered something the protocol does not allow (garbage, malformed XML)."""


class DeviceError(McuControlError):
    """The device understood the request and refused it; `code` is the vendor's own code."""

    def __init__(
        self,
        message: str,
        *,
        device: str | None = None,
        hint: str | None = None,
        code: int | str | None = None,
    ) -> None:
        super().__init__(message, device=device, hint=hint)
        self.code = code

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} (code {self.code})" if self.code is not None else base

    def to_dict(self) -> dict[str, str | int | None]:
        out = super().to_dict()
        out["code"] = self.code
        return out


class AuthenticationError(DeviceError):
    """The device rejected our credentials (or our clock, for WS-Security)."""


class NotSupportedError(McuControlError):
    """The device or its driver does not offer this capability."""


NotSupported = NotSupportedError


class ConfigError(McuControlError):
    """A profile, model, secret reference or command-line value is invalid."""

    def __init__(
        self,
        message: str,
        *,
        device: str | None = None,
        hint: str | None = None,
        problems: list[ConfigProblem] | None = None,
    ) -> None:
        super().__init__(message, device=device, hint=hint)
        self.problems: list[ConfigProblem] = problems or []


class ConfigProblem:
    """One located problem in a configuration file."""

    __slots__ = ("file", "line", "message", "path")

    def __init__(
        self, path: str, message: str, *, file: str | None = None, line: int | None = None
    ):
        self.path = path
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = self.file or "<profile>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.path or '<root>'}: {self.message}"

    def to_dict(self) -> dict[str, str | int | None]:
        """Machine form for `profile check --json`."""
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}
