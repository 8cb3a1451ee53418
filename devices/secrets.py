"""Secret values that cannot leak by accident.

A `Secret` prints as `***`; its value comes out only through `reveal()`. Every revealed
value is remembered so that `redact()` and the logging filter can scrub it from any text
(an exception message echoed by a device, a URL, a debug dump).
"""

from __future__ import annotations

import logging
import threading

_known: set[str] = set()
_lock = threading.Lock()
MASK = "***"


class Secret:
    """A password, community string or key; never shown in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= 3:  # a 1–2 character "secret" would redact half the log
            with _lock:
                _known.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def redact(text: str) -> str:
    """Replace every known secret value in `text` by `***`."""
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Logging filter that renders the record and scrubs known secrets from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _known:
            return True
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg = clean
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = str(exc)
            if redact(text) != text:
                # the traceback would print the secret; keep the type, drop the text
                record.exc_info = None
                record.msg = f"{record.msg} [{type(exc).__name__}: {redact(text)}]"
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of `logger` (root by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
