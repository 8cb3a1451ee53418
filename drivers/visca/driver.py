"""`PtzCamera` over VISCA (serial or IP): presets by memory number, positions in generic space.

Generic ↔ device units are piecewise linear around 0 (home): pan −1…0…1 maps to
pan_min…0…pan_max, tilt likewise, zoom 0…1 to 0…zoom_max. Both halves are linear so that
0 stays the camera's home position even when the tilt range is asymmetric.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from devices.errors import ConfigError
from devices.health import Health
from devices.interfaces import (
    Capability,
    ConnectionState,
    DeviceInfo,
    Preset,
    PtzCamera,
    PtzPosition,
    PtzStatus,
)
from devices.memory import MEMORY, DeviceMemory, Seen
from drivers.visca import codec
from drivers.visca.codec import PanDir, TiltDir, ViscaDecodeError
from drivers.visca.transport import ViscaTransport

T = TypeVar("T")

#: VISCA vendor ids seen in CAM_VersionInq replies
VENDORS = {0x0001: "Sony"}
ZOOM_SPEED_MAX = 7


@dataclass(frozen=True, slots=True)
class ViscaRanges:
    """A model's device ranges, from the model file (profiles/models/*.yaml `visca:`)."""

    pan_min: int
    pan_max: int
    tilt_min: int
    tilt_max: int
    zoom_max: int
    pan_speed_max: int = 0x18
    tilt_speed_max: int = 0x14
    preset_min: int = 0
    preset_max: int = 255


def to_device(position: PtzPosition, r: ViscaRanges) -> tuple[int, int, int]:
    """Generic position → (pan, tilt, zoom) device units, clamped to the model's ranges."""
    return (
        _to_units(position.pan, r.pan_min, r.pan_max),
        _to_units(position.tilt, r.tilt_min, r.tilt_max),
        round(min(max(position.zoom, 0.0), 1.0) * r.zoom_max),
    )


def to_generic(pan: int, tilt: int, zoom: int, r: ViscaRanges) -> PtzPosition:
    """Device units → generic position."""
    return PtzPosition(
        pan=_to_generic(pan, r.pan_min, r.pan_max),
        tilt=_to_generic(tilt, r.tilt_min, r.tilt_max),
        zoom=min(max(zoom / r.zoom_max, 0.0), 1.0),
    )


class ViscaCamera(PtzCamera):
    """A VISCA camera behind a serial or IP transport."""

    capabilities = frozenset(
        {Capability.PTZ_POWER, Capability.PTZ_ABSOLUTE, Capability.PTZ_SAVE_PRESET}
    )

    def __init__(
        self,
        name: str,
        transport: ViscaTransport,
        *,
        ranges: ViscaRanges,
        preset_names: dict[str, str] | None = None,
        manufacturer: str = "",
        model: str = "",
        timeout_s: float = 3.0,
        motion_probe_s: float = 0.15,
        memory: DeviceMemory | None = None,
    ) -> None:
        super().__init__(name)
        self.transport = transport
        #: what outlives this instance (the last position read), keyed by name and address
        self.memory = (
            memory
            if memory is not None
            else MEMORY.for_device(
                name, getattr(transport, "host", "serial"), getattr(transport, "port", "")
            )
        )
        self.ranges = ranges
        #: token (memory number as text) → display name, from the profile
        self.preset_names = dict(preset_names or {})
        self.manufacturer = manufacturer
        self.model = model
        self.timeout_s = timeout_s
        #: gap between the two position reads of `status()` that observe motion (0: do not probe)
        self.motion_probe_s = motion_probe_s
        self.log = logging.getLogger(f"mcu_control.device.{name}")
        self._auto_stop: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        if self.state == ConnectionState.CONNECTED:
            return
        self.state = ConnectionState.CONNECTING
        try:
            await self.transport.open()
        except BaseException:
            self.state = ConnectionState.FAILED
            raise
        self.state = ConnectionState.CONNECTED

    async def close(self) -> None:
        """Close the link, after a pending automatic Stop has been sent.

        A continuous move always ends in Stop: closing waits for the rest of the move's
        timeout; cancelling the close (Ctrl-C, shutdown) sends the Stop at once.
        """
        try:
            task = self._auto_stop
            if task is not None and not task.done():
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    task.cancel()  # we are being cancelled: stop now, not at the timeout
                await task
        finally:
            await self.transport.close()
            self.state = ConnectionState.CLOSED

    async def health(self) -> Health:
        await self.connect()
        on = await self.power()
        if on:
            return Health.ok("power on")
        return Health.degraded("camera in standby", power=False)

    async def identify(self) -> DeviceInfo:
        await self.connect()
        v = self._decode(codec.parse_version, await self.transport.inquiry(codec.VERSION_INQ))
        return DeviceInfo(
            manufacturer=self.manufacturer or VENDORS.get(v.vendor_id, f"vendor {v.vendor_id:04X}"),
            model=self.model or f"model {v.model_id:04X}",
            firmware=f"ROM {v.rom_revision:04X}",
            extra={
                "vendor_id": f"{v.vendor_id:04X}",
                "model_id": f"{v.model_id:04X}",
                "max_socket": str(v.max_socket),
            },
        )

    async def presets(self) -> list[Preset]:
        """The profile's presets: VISCA cannot list a camera's memories."""
        return [
            Preset(token=t, name=n)
            for t, n in sorted(self.preset_names.items(), key=lambda kv: int(kv[0]))
        ]

    async def goto_preset(
        self, token: str, *, wait: bool = True, timeout_s: float = 10.0
    ) -> PtzStatus:
        """Recall memory `token`; with `wait`, return after the camera's completion."""
        number = self._preset_number(token)
        await self.connect()
        await self._cancel_auto_stop()
        await self.transport.command(
            codec.preset_recall(number), completion_timeout_s=timeout_s if wait else None
        )
        return await self._status(still=True) if wait else await self.status()

    async def save_preset(self, token: str | None, name: str) -> str:
        if token is None:
            raise ConfigError(
                "a VISCA preset needs a memory number", device=self.name, hint="e.g. `4`"
            )
        number = self._preset_number(token)
        await self.connect()
        await self.transport.command(codec.preset_set(number), completion_timeout_s=self.timeout_s)
        self.preset_names[str(number)] = name
        return str(number)

    async def status(self) -> PtzStatus:
        """Position; `moving` from two reads `motion_probe_s` apart (VISCA has no motion inquiry).

        Two equal reads mean still, two different ones moving; without a probe it is None.
        """
        return await self._status(still=None)

    async def continuous_move(
        self, pan: float, tilt: float, zoom: float, *, timeout_s: float
    ) -> None:
        """Drive at velocities −1…1 (0 stops that axis); a timer sends Stop after `timeout_s`."""
        await self.connect()
        await self._cancel_auto_stop()
        r = self.ranges
        pan_dir = PanDir.STOP if pan == 0 else PanDir.RIGHT if pan > 0 else PanDir.LEFT
        tilt_dir = TiltDir.STOP if tilt == 0 else TiltDir.UP if tilt > 0 else TiltDir.DOWN
        await self.transport.command(
            codec.pan_tilt_drive(
                _speed(pan, r.pan_speed_max), _speed(tilt, r.tilt_speed_max), pan_dir, tilt_dir
            )
        )
        if zoom == 0:
            await self.transport.command(codec.zoom_stop())
        else:
            speed = min(ZOOM_SPEED_MAX, round(abs(zoom) * ZOOM_SPEED_MAX))
            await self.transport.command(codec.zoom_drive(zoom > 0, speed))
        if pan != 0 or tilt != 0 or zoom != 0:
            self._auto_stop = asyncio.create_task(
                self._stop_after(timeout_s), name=f"visca-auto-stop:{self.name}"
            )

    async def stop(self) -> None:
        await self.connect()
        await self._cancel_auto_stop()
        await self._send_stop()

    async def absolute_move(
        self, position: PtzPosition, *, wait: bool = True, timeout_s: float = 10.0
    ) -> PtzStatus:
        """Pan/tilt and zoom run in the camera's two sockets at once."""
        await self.connect()
        await self._cancel_auto_stop()
        pan, tilt, zoom = to_device(position, self.ranges)
        r = self.ranges
        done = timeout_s if wait else None
        await asyncio.gather(
            self.transport.command(
                codec.absolute_position(r.pan_speed_max, r.tilt_speed_max, pan, tilt),
                completion_timeout_s=done,
            ),
            self.transport.command(codec.zoom_direct(zoom), completion_timeout_s=done),
        )
        return await self._status(still=True) if wait else await self.status()

    async def set_power(self, on: bool) -> None:
        await self.connect()
        await self.transport.command(codec.power(on), completion_timeout_s=self.timeout_s)

    async def power(self) -> bool:
        await self.connect()
        return self._decode(codec.parse_power, await self.transport.inquiry(codec.POWER_INQ))

    # ------------------------------------------------------------------ private

    async def _status(self, *, still: bool | None) -> PtzStatus:
        """Read the position; `still=True`: a completion was just observed, no probe needed."""
        await self.connect()
        first = await self._read_units()
        moving: bool | None = False if still else None
        if still is None and self.motion_probe_s > 0:
            await asyncio.sleep(self.motion_probe_s)
            second = await self._read_units()
            moving, first = second != first, second
        position = to_generic(*first, self.ranges)
        self.memory.last_position = Seen(position, time.monotonic())
        return PtzStatus(position=position, moving=moving)

    async def _read_units(self) -> tuple[int, int, int]:
        pan, tilt = self._decode(
            codec.parse_pan_tilt, await self.transport.inquiry(codec.PAN_TILT_POS_INQ)
        )
        zoom = self._decode(codec.parse_zoom, await self.transport.inquiry(codec.ZOOM_POS_INQ))
        return pan, tilt, zoom

    async def _send_stop(self) -> None:
        await self.transport.command(codec.pan_tilt_stop(), completion_timeout_s=self.timeout_s)
        await self.transport.command(codec.zoom_stop(), completion_timeout_s=self.timeout_s)

    async def _stop_after(self, delay_s: float) -> None:
        """Send Stop after `delay_s`, or at once when cancelled (close, Ctrl-C, loop shutdown).

        Only a newer command (which took the task out of `_auto_stop`) skips the Stop.
        """
        me = asyncio.current_task()
        try:
            await asyncio.sleep(delay_s)
        finally:
            if self._auto_stop is me:
                self._auto_stop = None
                try:
                    async with asyncio.timeout(2 * self.timeout_s):
                        await self._send_stop()
                except Exception:
                    self.log.warning(
                        "automatic stop failed: the camera may still be moving; "
                        "send `mcu-control camera stop`",
                        exc_info=True,
                    )

    async def _cancel_auto_stop(self) -> None:
        """A newer command supersedes the pending automatic Stop (it moves or stops itself)."""
        task, self._auto_stop = self._auto_stop, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _preset_number(self, token: str) -> int:
        r = self.ranges
        if not token.isdigit() or not r.preset_min <= int(token) <= r.preset_max:
            raise ConfigError(
                f"preset {token!r} is not a VISCA memory number {r.preset_min}–{r.preset_max}",
                device=self.name,
                hint="use the profile's preset name or a memory number",
            )
        return int(token)

    def _decode(self, parse: Callable[[bytes], T], data: bytes) -> T:
        try:
            return parse(data)
        except ViscaDecodeError as exc:
            raise self.transport.protocol_error(str(exc)) from None


def _speed(velocity: float, maximum: int) -> int:
    return max(1, min(maximum, round(abs(velocity) * maximum)))


def _to_units(value: float, lo: int, hi: int) -> int:
    value = min(max(value, -1.0), 1.0)
    return round(value * hi) if value >= 0 else round(-value * lo)


def _to_generic(units: int, lo: int, hi: int) -> float:
    if units >= 0:
        return min(units / hi, 1.0) if hi else 0.0
    return max(-units / lo, -1.0) if lo else 0.0
