"""Biamp Tesira mixers over the Tesira Text Protocol, on RS-232 or telnet.

Command text comes from the device model's templates (a plain dict); logical channel names map
to (instance tag, index). The first use opens the session; a session that dies is not reopened
by the driver (its state turns `failed`): reconnecting is the supervisor's job (`connect()`, or
a new driver), and `connect()` renews the subscriptions taken so far (Tesira forgets them with
the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from devices.errors import (
    DeviceError,
    InvalidParameterError,
    McuControlError,
    NotSupportedError,
    ProtocolError,
    TransportError,
)
from devices.health import Health
from devices.interfaces import (
    AudioMixer,
    Capability,
    ConnectionState,
    DeviceInfo,
    LevelRange,
    MixerEvent,
)
from drivers.tesira.codec import Enum, Err, Ok, Publish, Value, encode, err_class
from drivers.tesira.transport import SerialSession, TelnetSession, TtpSession

#: the model templates this driver needs; others are optional
REQUIRED_COMMANDS = ("get_mute", "set_mute")


class TesiraMixer(AudioMixer):
    """Shared TTP logic; the subclasses only say how a session is opened."""

    def __init__(
        self,
        name: str,
        *,
        commands: Mapping[str, str],
        channels: Mapping[str, tuple[str, int]],
        meters: Mapping[str, tuple[str, int]] | None = None,
        level_range: tuple[float, float] = (-100.0, 12.0),
        manufacturer: str = "Biamp",
        model: str = "Tesira",
        timeout_s: float = 2.0,
        renew_every_s: float = 60.0,
    ) -> None:
        super().__init__(name)
        missing = [c for c in REQUIRED_COMMANDS if c not in commands]
        if missing:
            raise ValueError(f"{name}: model lacks command templates {missing}")
        self.commands = dict(commands)
        self.channels = dict(channels)
        self.meter_points = dict(meters or {})
        self.default_range = LevelRange(*level_range)
        self.manufacturer = manufacturer
        self.model = model
        self.timeout_s = timeout_s
        #: subscriptions are taken again this often: a DSP that rebooted behind an RS-232 line
        #: (or got a configuration download) forgets them without closing anything
        self.renew_every_s = renew_every_s
        wanted = {
            Capability.MIXER_LEVEL: "get_level" in commands,
            Capability.MIXER_METERS: "get_meter" in commands and bool(self.meter_points),
            Capability.MIXER_SUBSCRIBE: "subscribe_mute" in commands,
            Capability.MIXER_SNAPSHOT: "recall_preset" in commands,
        }
        self.capabilities = frozenset(c for c, ok in wanted.items() if ok)
        self._log = logging.getLogger(f"mcu_control.device.{name}")
        self._session: TtpSession | None = None
        self._connect_lock = asyncio.Lock()
        self._listeners: list[Callable[[MixerEvent], None]] = []
        self._meter_rate_ms = 500
        self.last_meters: dict[str, float] = {}
        #: how many sessions this driver has opened (reconnects = sessions - 1)
        self.sessions_opened = 0
        #: (attribute, block, index, label) of the subscriptions the live session holds
        self._subscribed: list[tuple[str, str, int, str]] = []
        self._renewer: asyncio.Task[None] | None = None
        self._ranges: dict[str, LevelRange] = {}

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Open a session if none is alive, then renew every subscription on it."""
        async with self._connect_lock:
            if self._session is not None and self._session.state is ConnectionState.CONNECTED:
                return
            if self._session is not None:
                await self._session.close(ConnectionState.FAILED)
            self.state = ConnectionState.CONNECTING
            session = self._new_session()
            try:
                await session.open()
            except Exception:
                self.state = ConnectionState.FAILED
                raise
            self._session = session
            self._subscribed = []
            self._ranges = {}
            self.sessions_opened += 1
            self.state = ConnectionState.CONNECTED
            self._log.info("TTP session open on %s", session.where)
            if self._listeners:
                await self._subscribe_all(session)

    async def close(self) -> None:
        """Remove our subscriptions (an RS-232 line keeps them for its next user), then close."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        session, self._session = self._session, None
        if session is not None:
            if session.state is ConnectionState.CONNECTED and self._subscribed:
                await self._unsubscribe_all(session)
            await session.close()
        self._listeners.clear()
        self.state = ConnectionState.CLOSED

    # ------------------------------------------------------------------ AudioMixer

    async def identify(self) -> DeviceInfo:
        version = await self._get_text("version")
        serial = await self._get_text("serial") if "serial" in self.commands else ""
        return DeviceInfo(self.manufacturer, self.model, version, serial)

    async def health(self) -> Health:
        version = await self._get_text("version")
        if "faults" not in self.commands:
            return Health.ok("answering", firmware=version)
        faults = self._faults(await self._value(self._line("faults")))
        if faults:
            return Health.degraded(
                "active faults: " + "; ".join(faults), firmware=version, faults=len(faults)
            )
        return Health.ok("no active faults", firmware=version, faults=0)

    async def get_mute(self, channel: str) -> bool:
        value = await self._value(self._line("get_mute", channel))
        if not isinstance(value, bool):
            raise self._garbage(f"mute of {channel} is {value!r}, not true/false")
        return value

    async def set_mute(self, channel: str, muted: bool) -> None:
        await self._ok(self._line("set_mute", channel, value=muted))

    async def toggle_mute(self, channel: str) -> bool:
        if "toggle_mute" not in self.commands:
            return await super().toggle_mute(channel)
        await self._ok(self._line("toggle_mute", channel))
        return await self.get_mute(channel)

    async def get_level(self, channel: str) -> float:
        return self._number(await self._value(self._line("get_level", channel)), channel)

    async def set_level(self, channel: str, level_db: float) -> None:
        """Set a level inside the block's own range; outside it is refused, never clamped."""
        if not math.isfinite(level_db):
            raise InvalidParameterError(
                f"level {level_db!r} for {channel} is not a number of dB",
                device=self.name,
                hint="give a finite level in dB",
            )
        line = self._line("set_level", channel, value=float(level_db))
        limits = self._ranges.get(channel)
        if limits is None:
            limits = self._ranges[channel] = await self.level_range(channel)
        for bound, name, beyond in (
            (limits.max_db, "maximum", level_db > limits.max_db),
            (limits.min_db, "minimum", level_db < limits.min_db),
        ):
            if beyond:
                raise InvalidParameterError(
                    f"asked {level_db:g} dB for {channel}, the block's {name} is {bound:g} dB "
                    "(the DSP would clamp it silently)",
                    device=self.name,
                    hint=f"give a level within {limits.min_db:g}…{limits.max_db:g} dB",
                )
        await self._ok(line)

    async def level_range(self, channel: str) -> LevelRange:
        try:
            lo = self._number(await self._value(self._line("get_min_level", channel)), channel)
            hi = self._number(await self._value(self._line("get_max_level", channel)), channel)
        except NotSupportedError:
            return self.default_range
        return LevelRange(lo, hi)

    async def meters(self, channels: list[str] | None = None) -> dict[str, float]:
        names = channels if channels is not None else list(self.meter_points)
        out: dict[str, float] = {}
        for ch in names:
            if ch not in self.meter_points:
                raise self._unknown(ch, "meter")
            block, index = self.meter_points[ch]
            line = self._template("get_meter", block=block, index=index)
            out[ch] = self._number(await self._value(line), ch)
        return out

    async def subscribe(
        self, on_event: Callable[[MixerEvent], None], *, meter_rate_ms: int = 500
    ) -> None:
        self._listeners.append(on_event)
        self._meter_rate_ms = meter_rate_ms
        await self.connect()
        if len(self._listeners) == 1:
            assert self._session is not None
            await self._subscribe_all(self._session)
        if self._renewer is None and self.renew_every_s > 0:
            self._renewer = asyncio.create_task(
                self._renew_periodically(), name=f"ttp-renew:{self.name}"
            )

    async def renew_subscriptions(self) -> None:
        """Subscribe again with the same labels (Tesira drops them on a configuration download)."""
        await self.connect()
        if self._listeners and self._session is not None:
            await self._subscribe_all(self._session)

    async def recall_snapshot(self, snapshot: int) -> None:
        await self._ok(self._template("recall_preset", value=int(snapshot)))

    # ------------------------------------------------------------------ helpers

    def _new_session(self) -> TtpSession:
        raise NotImplementedError

    async def _subscribe_all(self, session: TtpSession) -> None:
        """Take (or renew) mute and level subscriptions per channel and meter subscriptions."""
        wanted: list[tuple[tuple[str, str, int, str], bytes]] = []
        for ch, (block, index) in self.channels.items():
            for kind in ("mute", "level"):
                key = f"subscribe_{kind}"
                if key in self.commands:
                    label = f"{kind}.{ch}"
                    line = encode(self.commands[key], block=block, index=index, label=label)
                    wanted.append(((kind, block, index, label), line))
        if "subscribe_meter" in self.commands:
            for ch, (block, index) in self.meter_points.items():
                label = f"meter.{ch}"
                line = encode(
                    self.commands["subscribe_meter"],
                    block=block,
                    index=index,
                    label=label,
                    rate_ms=self._meter_rate_ms,
                )
                wanted.append((("level", block, index, label), line))
        taken: list[tuple[str, str, int, str]] = []
        for sub, line in wanted:
            reply = await session.command(line)
            if isinstance(reply, Err):
                if reply.kind == "unsupported":  # e.g. no level on a mute block
                    continue
                raise self._refused(line, reply)
            taken.append(sub)
        self._subscribed = taken

    async def _unsubscribe_all(self, session: TtpSession) -> None:
        """Best effort, bounded: a DSP that does not answer must not hold up the close."""
        subs, self._subscribed = self._subscribed, []
        try:
            async with asyncio.timeout(2 * self.timeout_s):
                for attribute, block, index, label in subs:
                    template = self.commands.get(f"unsubscribe_{attribute}")
                    if template is None:
                        continue
                    await session.command(encode(template, block=block, index=index, label=label))
        except (McuControlError, TimeoutError) as exc:
            self._log.info("could not remove every subscription on close: %s", exc)

    async def _renew_periodically(self) -> None:
        """Renew on the live session every `renew_every_s`; never opens a session itself."""
        while True:
            await asyncio.sleep(self.renew_every_s)
            session = self._session
            if session is None or session.state is not ConnectionState.CONNECTED:
                continue
            try:
                await self._subscribe_all(session)
            except McuControlError as exc:
                self._log.warning("renewing subscriptions failed: %s", exc)

    def _on_lost(self, exc: McuControlError) -> None:
        """The session died under us: say so now, so a supervisor need not wait for a command."""
        self.state = ConnectionState.FAILED
        self._log.warning("TTP session lost: %s", exc.message)

    def _on_publish(self, msg: Publish) -> None:
        kind, _, channel = msg.token.partition(".")
        value = msg.value
        if kind == "mute" and isinstance(value, bool):
            event = MixerEvent(channel, kind, value)
        elif (
            kind in ("level", "meter")
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            event = MixerEvent(channel, kind, float(value))
            if kind == "meter":
                self.last_meters[channel] = float(value)
        else:
            self._log.debug("ignoring push %r", msg)
            return
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 — a listener bug must not kill the reader
                self._log.exception("mixer event listener failed")

    def _line(self, command: str, channel: str | None = None, **values: Any) -> bytes:
        if channel is not None:
            if channel not in self.channels:
                raise self._unknown(channel, "channel")
            block, index = self.channels[channel]
            values = {"block": block, "index": index, **values}
        return self._template(command, **values)

    def _template(self, command: str, **values: Any) -> bytes:
        template = self.commands.get(command)
        if template is None:
            raise self._unsupported(f"{command.replace('_', ' ')} (no template in the model)")
        try:
            return encode(template, **values)
        except ProtocolError as exc:
            raise ProtocolError(exc.message, device=self.name) from None

    async def _send(self, line: bytes) -> Ok | Err:
        if self.state is ConnectionState.NEW:
            await self.connect()  # the first use opens the session; a lost one is not reopened
        session = self._session
        if session is None or session.state is not ConnectionState.CONNECTED:
            raise TransportError(
                f"the TTP session is {self.state}; the driver does not reopen it",
                device=self.name,
                hint="the device supervisor reconnects (a new driver, or connect())",
            )
        try:
            return await session.command(line)
        finally:
            if not session.alive:
                self.state = ConnectionState.FAILED

    async def _ok(self, line: bytes) -> Ok:
        reply = await self._send(line)
        if isinstance(reply, Err):
            raise self._refused(line, reply)
        return reply

    async def _value(self, line: bytes) -> Value:
        reply = await self._ok(line)
        if "value" not in reply.fields:
            raise self._garbage(f"reply to {line.decode().strip()!r} carries no value")
        return reply.value

    async def _get_text(self, command: str) -> str:
        value = await self._value(self._template(command))
        return str(value)

    def _refused(self, line: bytes, err: Err) -> DeviceError | NotSupportedError:
        text = line.decode("utf-8", "replace").strip()
        if err.kind == "unsupported":
            return NotSupportedError(f"{text!r}: {err.reason}", device=self.name)
        hint = {
            "address": "check the channel's `block` (instance tag, case-sensitive) in the profile",
            "parse": "the model's command template does not fit this firmware",
        }.get(err.kind)
        return err_class(err.kind)(
            f"{text!r} refused: {err.reason}", device=self.name, hint=hint, code=err.kind
        )

    def _number(self, value: Value, channel: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._garbage(f"value for {channel} is {value!r}, not a number")
        return float(value)

    def _faults(self, value: Value) -> list[str]:
        if not isinstance(value, list):
            raise self._garbage(f"activeFaultList is {value!r}, not a list")
        out = []
        for entry in value:
            if not isinstance(entry, dict):
                continue
            ident = entry.get("id")
            if isinstance(ident, Enum | str) and str(ident).startswith("INDICATOR_NONE"):
                continue
            out.append(str(entry.get("name") or ident))
        return out

    def _garbage(self, what: str) -> ProtocolError:
        return ProtocolError(what, device=self.name, hint="the DSP answered something unexpected")

    def _unknown(self, channel: str, what: str) -> NotSupportedError:
        known = ", ".join(sorted(self.channels if what == "channel" else self.meter_points))
        return NotSupportedError(
            f"no {what} named {channel!r} (known: {known or 'none'})", device=self.name
        )


class TesiraTelnetMixer(TesiraMixer):
    """Tesira over telnet (TCP 23 by default)."""

    def __init__(self, name: str, *, host: str, port: int = 23, **common: Any) -> None:
        super().__init__(name, **common)
        self.host = host
        self.port = port

    def _new_session(self) -> TtpSession:
        return TelnetSession(
            self.name,
            host=self.host,
            port=self.port,
            timeout_s=self.timeout_s,
            on_publish=self._on_publish,
            on_lost=self._on_lost,
        )


class TesiraSerialMixer(TesiraMixer):
    """Tesira over RS-232: `url` is a device path or a pyserial URL (socket://host:port)."""

    def __init__(
        self,
        name: str,
        *,
        url: str,
        baudrate: int = 115200,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.url = url
        self.baudrate = baudrate
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits

    def _new_session(self) -> TtpSession:
        return SerialSession(
            self.name,
            url=self.url,
            baudrate=self.baudrate,
            bytesize=self.bytesize,
            parity=self.parity,
            stopbits=self.stopbits,
            timeout_s=self.timeout_s,
            on_publish=self._on_publish,
            on_lost=self._on_lost,
        )
