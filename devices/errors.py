"""One error tree for every device, driver and configuration failure.

Every message names the device it concerns and, where one exists, what the technician
should do next. Secrets never enter a message: drivers redact before raising.
"""

from __future__ import annotations


class McuControlError(Exception):
    """Root of every error mcu-control raises on purpose.

    `kind` is the error's meaning in one stable word (used in `--json`, MQTT replies and
    reports); `retryable` says whether trying the same request again may succeed. Vendor
    numbers stay in `DeviceError.code`, for display only: nothing above `drivers/` compares
    them.
    """

    kind = "error"
    retryable = False

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
            "kind": self.kind,
            "device": self.device,
            "message": self.message,
            "hint": self.hint,
        }


class TransportError(McuControlError):
    """The link to the device failed: refused, reset, closed, serial port gone."""

    kind = "transport"
    retryable = True


class DeviceTimeoutError(McuControlError, TimeoutError):
    """The device did not answer within its deadline.

    `may_have_applied` is true when the request left us before the deadline: the device may
    still carry it out when it wakes, so the message must tell the technician to check.
    """

    kind = "timeout"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        device: str | None = None,
        hint: str | None = None,
        timeout_s: float | None = None,
        may_have_applied: bool = False,
    ) -> None:
        super().__init__(message, device=device, hint=hint)
        self.timeout_s = timeout_s
        self.may_have_applied = may_have_applied


class ProtocolError(McuControlError):
    """The device answered something the protocol does not allow (garbage, malformed XML)."""

    kind = "protocol"


class DeviceError(McuControlError):
    """The device understood the request and refused it; `code` is the vendor's own code.

    Drivers raise the subclass that says what the refusal means (mapped in each codec from
    the vendor's table); a plain `DeviceError` is a refusal of no known meaning.
    """

    kind = "device"

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

    kind = "authentication"


class NotFoundError(DeviceError):
    """The object named in the request (conference, participant, preset, OID) does not exist."""

    kind = "not-found"


class AlreadyExistsError(DeviceError):
    """The object the request would create exists already (e.g. a conference of that name)."""

    kind = "already-exists"


class InvalidParameterError(DeviceError):
    """A permanent refusal of a parameter (bad value, name too long): retrying cannot help."""

    kind = "invalid-parameter"


class NotAllowedNowError(DeviceError):
    """The device refuses the request in its present state (e.g. recording not enabled)."""

    kind = "not-allowed"


class DeviceBusyError(DeviceError):
    """A passing refusal (busy, buffer full, expired session): the same request may succeed."""

    kind = "busy"
    retryable = True


class NotSupportedError(McuControlError):
    """The device or its driver does not offer this capability."""

    kind = "not-supported"


NotSupported = NotSupportedError


class ConfigError(McuControlError):
    """A profile, model, secret reference or command-line value is invalid."""

    kind = "config"

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
