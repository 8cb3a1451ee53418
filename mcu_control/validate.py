"""Checks of typed values, before any I/O: finite, in range, NFC-normalised (docs/cli.md).

Light on purpose (no device code): commands call these before loading anything heavy.
"""

from __future__ import annotations

import math
import unicodedata

from devices.errors import ConfigError


def nfc(text: str) -> str:
    """Names as typed (some keyboards send decomposed Vietnamese) compared as NFC."""
    return unicodedata.normalize("NFC", text)


def check_number(
    name: str, value: float, *, low: float | None = None, high: float | None = None, unit: str = ""
) -> float:
    """A finite number within [low, high], or ConfigError saying the allowed range."""
    span = (
        f"{low:g}…{high:g}{unit}"
        if low is not None and high is not None
        else f"> {low:g}{unit}"
        if low is not None
        else f"< {high:g}{unit}"
    )
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, not {value!r}", hint=f"use {span}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{name} {value:g}{unit} is out of range", hint=f"use {span}")
    return value


def check_positive(name: str, value: float, unit: str = "s") -> float:
    """A finite number above zero (timeouts, durations), or ConfigError."""
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"{name} must be a finite number above 0 {unit}, not {value!r}",
            hint=f"give a positive number of {unit}",
        )
    return value
