"""One pan-tilt-zoom motion model shared by every camera simulator.

Positions are in the ONVIF generic space (pan, tilt −1…1; zoom 0…1). Each axis moves over
real (monotonic) time, either toward a target (reached after `move_time_s`) or at a velocity
until a timeout, a stop or its limit, so a client that polls sees a real move and can only
confirm arrival by waiting for it. Nothing here runs a task: positions are computed on read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Vec = tuple[float, float, float]
LIMITS: tuple[tuple[float, float], ...] = ((-1.0, 1.0), (-1.0, 1.0), (0.0, 1.0))


@dataclass
class _Axis:
    lo: float
    hi: float
    origin: float = 0.0
    t0: float = 0.0
    target: float | None = None
    duration: float = 0.0
    velocity: float = 0.0
    until: float = 0.0

    def value(self, now: float) -> float:
        if self.target is not None:
            if self.duration <= 0 or now >= self.t0 + self.duration:
                return self.target
            frac = (now - self.t0) / self.duration
            return self.origin + (self.target - self.origin) * frac
        if self.velocity:
            elapsed = min(now, self.until) - self.t0
            return min(max(self.origin + self.velocity * elapsed, self.lo), self.hi)
        return self.origin

    def moving(self, now: float) -> bool:
        if self.target is not None:
            return now < self.t0 + self.duration
        if self.velocity:
            v = self.value(now)
            at_limit = (self.velocity > 0 and v >= self.hi) or (self.velocity < 0 and v <= self.lo)
            return now < self.until and not at_limit
        return False

    def end_time(self, now: float) -> float:
        if self.target is not None:
            return max(now, self.t0 + self.duration)
        if self.velocity and self.moving(now):
            limit = self.hi if self.velocity > 0 else self.lo
            return min(self.until, now + abs(limit - self.value(now)) / abs(self.velocity))
        return now

    def freeze(self, now: float) -> None:
        self.origin = self.value(now)
        self.t0 = now
        self.target = None
        self.velocity = 0.0


class PtzMotion:
    """Position and movement of one simulated PTZ head."""

    def __init__(
        self,
        *,
        position: Vec = (0.0, 0.0, 0.0),
        move_time_s: float = 0.3,
        velocity_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.move_time_s = move_time_s
        #: generic units per second at velocity 1.0
        self.velocity_scale = velocity_scale
        self._clock = clock
        self._axes = [
            _Axis(lo, hi, origin=_clamp(v, lo, hi))
            for v, (lo, hi) in zip(position, LIMITS, strict=True)
        ]

    def position(self) -> Vec:
        now = self._clock()
        pan, tilt, zoom = (a.value(now) for a in self._axes)
        return pan, tilt, zoom

    def moving(self, *, pan_tilt: bool = True, zoom: bool = True) -> bool:
        now = self._clock()
        axes = (self._axes[:2] if pan_tilt else []) + ([self._axes[2]] if zoom else [])
        return any(a.moving(now) for a in axes)

    def remaining_s(self) -> float:
        """Seconds until every axis is still (inf for an endless continuous move)."""
        now = self._clock()
        return max(a.end_time(now) for a in self._axes) - now

    def move_to(
        self,
        target: Vec | tuple[float | None, float | None, float | None],
        *,
        duration_s: float | None = None,
    ) -> float:
        """Start a move toward `target` (None: that axis unaffected); returns its duration."""
        now = self._clock()
        duration = self.move_time_s if duration_s is None else duration_s
        longest = 0.0
        for axis, t in zip(self._axes, target, strict=True):
            if t is None:
                continue
            axis.freeze(now)
            axis.target = _clamp(t, axis.lo, axis.hi)
            axis.duration = duration if not math.isclose(axis.target, axis.origin) else 0.0
            longest = max(longest, axis.duration)
        return longest

    def drive(
        self, velocity: tuple[float | None, float | None, float | None], timeout_s: float | None
    ) -> None:
        """Move at velocities −1…1 (None: axis unaffected) until `timeout_s`, a stop or a limit."""
        now = self._clock()
        until = math.inf if timeout_s is None else now + timeout_s
        for axis, v in zip(self._axes, velocity, strict=True):
            if v is None:
                continue
            axis.freeze(now)
            axis.velocity = _clamp(v, -1.0, 1.0) * self.velocity_scale
            axis.until = until

    def stop(self, *, pan_tilt: bool = True, zoom: bool = True) -> None:
        now = self._clock()
        for i, axis in enumerate(self._axes):
            if (i < 2 and pan_tilt) or (i == 2 and zoom):
                axis.freeze(now)


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi)


def spread_presets(tokens: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """Distinct, deterministic generic positions for a list of preset tokens (for demo rigs)."""
    out: dict[str, tuple[float, float, float]] = {}
    for i, token in enumerate(tokens):
        pan = round(-0.6 + 1.2 * (i % 5) / 4, 3)
        tilt = round(0.1 - 0.1 * (i % 3), 3)
        zoom = round(0.2 + 0.15 * (i % 4), 3)
        out[token] = (pan, tilt, zoom)
    return out
