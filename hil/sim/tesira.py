"""Biamp Tesira Text Protocol simulator (docs/protocols/tesira.md), written from the protocol facts.

Speaks TTP on a TCP listener either as a telnet server (option negotiation first, then the
welcome banner; echoes each command line) or as a raw serial line (usable through pyserial's
``socket://`` URLs, or as a real pty through ``socat pty,… tcp:127.0.0.1:<port>``). Keeps real
state per block and channel from a plain dict; subscriptions push changes; meters move.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger("hil.sim.tesira")

IAC, DONT, DO, WONT, WILL = 255, 254, 253, 252, 251
BANNER = "Welcome to the Tesira Text Protocol Server...\r\n"
#: the options a Tesira offers/asks on connect (echo, suppress-go-ahead; terminal type, window size)
NEGOTIATION = ((WILL, 1), (WILL, 3), (DO, 24), (DO, 31))

ERR_ADDRESS = '-ERR address not found: {"deviceId":0 "classCode":0 "instanceNum":0}'
ERR_VERB = "-ERR Parse error at 8: verb was not one of the commands supported by Services"
ERR_PARAMS = "-ERR Parse error at 22: not enough parameters supplied"
ERR_VALUE = "-ERR Parse error at 16: could not parse value"

_INTERFACE = {"mute": "MuteInterface", "level": "LevelInterface", "meter": "MeterInterface"}
_ATTRIBUTES = {
    "mute": {"mute", "numChannels", "mutes"},
    "level": {"level", "mute", "minLevel", "maxLevel", "numChannels", "levels", "mutes"},
    "meter": {"level", "numChannels", "levels"},
}


@dataclass
class TesiraFaults:
    """Switches for tests and scenario files; all off by default."""

    no_reply: bool = False  # read commands, never answer
    garbage: bool = False  # answer every command with a malformed +OK line
    drop: bool = False  # close the connection when the next command arrives
    err_everything: bool = False  # answer every command with -ERR
    no_banner: bool = False  # telnet: negotiate but never send the banner
    frozen: bool = False  # a hung DSP: accepts the connection, never sends a byte
    #: another service on the port: send this text on connect (e.g. an SSH banner), then
    #: answer every line with it again; never TTP
    foreign_greeting: str = ""
    reply_delay_s: float = 0.0  # wait this long before each answer (a real DSP's latency)


@dataclass
class _Block:
    kind: str
    channels: int
    min_db: float
    max_db: float
    mute: list[bool]
    level: list[float]


@dataclass(eq=False)
class _Session:
    writer: asyncio.StreamWriter
    verbose: bool = True
    #: (tag, attribute, index) -> (label, min rate ms)
    subs: dict[tuple[str, str, int], tuple[str, int]] = field(default_factory=dict)


class TesiraSim:
    """A Tesira DSP on one TCP port: ``await start()``, ``.port``, ``faults``, ``await stop()``."""

    def __init__(
        self,
        *,
        transport: Literal["telnet", "serial-tcp"] = "telnet",
        host: str = "127.0.0.1",
        port: int = 0,
        blocks: dict[str, dict[str, Any]] | None = None,
        echo: bool | None = None,
        version: str = "4.2.0.24",
        serial_number: str = "03975123",
        hostname: str = "TesiraForte01",
        active_faults: list[dict[str, Any]] | None = None,
        meter_interval_s: float = 0.1,
        reply_delay_s: float = 0.0,
    ) -> None:
        self.transport = transport
        self.host = host
        self.port = port
        self.echo = (transport == "telnet") if echo is None else echo
        self.version = version
        self.serial_number = serial_number
        self.hostname = hostname
        self.active_faults = list(active_faults or [])
        self.meter_interval_s = meter_interval_s
        self.faults = TesiraFaults(reply_delay_s=reply_delay_s)
        self.blocks: dict[str, _Block] = {}
        for tag, spec in (blocks or default_blocks()).items():
            self.add_block(tag, spec)
        self.recalled_presets: list[int] = []
        self.commands_seen: list[str] = []
        #: telnet clients that answered the option negotiation correctly
        self.negotiations_ok = 0
        self.connections = 0
        #: subscriptions a session still held when its connection ended (a polite client
        #: unsubscribes first: over RS-232 they would live on for the next user of the line)
        self.subs_at_disconnect: list[int] = []
        self._sessions: set[_Session] = set()
        self._server: asyncio.Server | None = None
        self._meter_task: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    def add_block(self, tag: str, spec: dict[str, Any]) -> None:
        """Add a block from plain data: {"type": "mute"|"level"|"meter", "channels": n, "min", "max"}."""
        kind = str(spec.get("type", "level"))
        if kind not in _ATTRIBUTES:
            raise ValueError(f"block {tag}: type must be mute, level or meter")
        n = int(spec.get("channels", 1))
        lo, hi = float(spec.get("min", -100.0)), float(spec.get("max", 12.0))
        level = [float(spec.get("level", 0.0 if kind == "level" else -60.0))] * n
        self.blocks[tag] = _Block(kind, n, lo, hi, [bool(spec.get("muted", False))] * n, level)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._meter_task = asyncio.create_task(self._move_meters(), name="tesira-sim-meters")

    async def stop(self) -> None:
        if self._meter_task is not None:
            self._meter_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._meter_task
            self._meter_task = None
        if self._server is not None:
            self._server.close()
        self.drop_all()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def drop_all(self) -> None:
        """Close every client connection now (subscriptions die with them, as on a real DSP)."""
        for s in list(self._sessions):
            s.writer.close()
        self._sessions.clear()

    def forget_subscriptions(self) -> None:
        """What a configuration download does: sessions stay, their subscriptions are gone."""
        for s in self._sessions:
            s.subs.clear()

    @property
    def subscription_count(self) -> int:
        return sum(len(s.subs) for s in self._sessions)

    # ------------------------------------------------------------------ state changes

    def set_mute(self, tag: str, index: int, muted: bool) -> None:
        """Change a mute as the front panel would: subscribers are told."""
        self.blocks[tag].mute[index - 1] = muted
        self._publish(tag, "mute", index, muted)

    def set_level(self, tag: str, index: int, level_db: float) -> None:
        b = self.blocks[tag]
        b.level[index - 1] = max(b.min_db, min(b.max_db, level_db))
        self._publish(tag, "level", index, b.level[index - 1])

    # ------------------------------------------------------------------ connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        session = _Session(writer)
        try:
            if self.faults.frozen or self.faults.foreign_greeting:
                await self._not_ttp(reader, writer)
                return
            if self.transport == "telnet" and not await self._negotiate(reader, writer):
                return
            self._sessions.add(session)
            buf = b""
            while True:
                data = await reader.read(4096)
                if not data:
                    return
                buf += data
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    line = raw.rstrip(b"\r").decode("utf-8", "replace").strip()
                    if line and not await self._on_line(session, line):
                        return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.subs_at_disconnect.append(len(session.subs))
            self._sessions.discard(session)
            writer.close()
            self._handlers.discard(task)

    async def _not_ttp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A frozen DSP (silence) or a foreign service (its own greeting, never TTP)."""
        greeting = self.faults.foreign_greeting.encode()
        if greeting:
            writer.write(greeting)
            await writer.drain()
        while await reader.read(4096):
            if greeting:
                writer.write(greeting)
                await writer.drain()

    async def _negotiate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"".join(bytes((IAC, cmd, opt)) for cmd, opt in NEGOTIATION))
        await writer.drain()
        expected = {bytes((IAC, WONT if cmd == DO else DONT, opt)) for cmd, opt in NEGOTIATION}
        got = b""
        try:
            async with asyncio.timeout(5.0):
                while len(got) < 3 * len(NEGOTIATION):
                    chunk = await reader.read(64)
                    if not chunk:
                        return False
                    got += chunk
        except TimeoutError:
            log.info("telnet client did not answer the option negotiation; no banner")
            return False
        answers = {got[i : i + 3] for i in range(0, 3 * len(NEGOTIATION), 3)}
        if answers == expected:
            self.negotiations_ok += 1
        else:
            log.warning("unexpected telnet answers %r", got)
        if not self.faults.no_banner:
            writer.write(BANNER.encode())
        return True

    async def _on_line(self, session: _Session, line: str) -> bool:
        """Handle one command line; False closes the connection."""
        self.commands_seen.append(line)
        if self.faults.drop:
            return False
        if self.faults.no_reply or self.faults.frozen:
            return True
        if self.faults.reply_delay_s > 0:
            await asyncio.sleep(self.faults.reply_delay_s)
        out: list[str] = [line] if self.echo else []
        if self.faults.garbage:
            out.append('+OK "value":{"broken [~#')
        elif self.faults.err_everything:
            out.append("-ERR Parse error at 0: fault injected by the simulator")
        else:
            out += self._execute(session, line)
        session.writer.write("".join(o + "\r\n" for o in out).encode())
        await session.writer.drain()
        return True

    # ------------------------------------------------------------------ commands

    def _execute(self, session: _Session, line: str) -> list[str]:
        try:
            words = _split(line)
        except ValueError:
            return [ERR_VALUE]
        if len(words) < 2:
            return [ERR_PARAMS]
        tag, verb, args = words[0], words[1], words[2:]
        if tag == "SESSION":
            return self._session_cmd(session, verb, args)
        if tag == "DEVICE":
            return self._device_cmd(session, verb, args)
        block = self.blocks.get(tag)
        if block is None:
            return [ERR_ADDRESS]
        if verb not in (
            "get",
            "set",
            "toggle",
            "increment",
            "decrement",
            "subscribe",
            "unsubscribe",
        ):
            return [ERR_VERB]
        if not args:
            return [ERR_PARAMS]
        attr, rest = args[0], args[1:]
        if attr not in _ATTRIBUTES[block.kind]:
            return [f"-ERR '{attr}' is not supported by {_INTERFACE[block.kind]}::Attributes"]
        if attr == "numChannels":
            return [self._ok(session, block.channels)] if verb == "get" else [ERR_VERB]
        if attr in ("mutes", "levels"):
            values = block.mute if attr == "mutes" else block.level
            return [self._ok(session, list(values))] if verb == "get" else [ERR_VERB]
        if not rest:
            return [ERR_PARAMS]
        try:
            index = int(rest[0])
        except ValueError:
            return [ERR_VALUE]
        if not 1 <= index <= block.channels:
            return [f"-ERR Index out of range: {index} (1..{block.channels})"]
        return self._attribute(session, tag, block, verb, attr, index, rest[1:])

    def _attribute(
        self,
        session: _Session,
        tag: str,
        block: _Block,
        verb: str,
        attr: str,
        index: int,
        rest: list[str],
    ) -> list[str]:
        i = index - 1
        if verb == "get":
            return [self._ok(session, self._read(block, attr, i))]
        if verb == "subscribe":
            if not rest:
                return [ERR_PARAMS]
            label = rest[0]
            rate = int(rest[1]) if len(rest) > 1 and rest[1].isdigit() else 0
            session.subs[(tag, attr, index)] = (label, rate)
            return [_push(label, self._read(block, attr, i)), "+OK"]
        if verb == "unsubscribe":
            session.subs.pop((tag, attr, index), None)
            return ["+OK"]
        if block.kind == "meter" or (attr in ("minLevel", "maxLevel") and verb != "set"):
            return [ERR_VERB]
        if attr == "mute":
            if verb == "toggle":
                self.set_mute(tag, index, not block.mute[i])
                return ["+OK"]
            if verb != "set" or not rest or rest[0] not in ("true", "false"):
                return [ERR_VALUE if verb == "set" else ERR_VERB]
            self.set_mute(tag, index, rest[0] == "true")
            return ["+OK"]
        if verb == "toggle":
            return [ERR_VERB]
        if verb == "set" and not rest:
            return [ERR_PARAMS]
        try:
            amount = float(rest[0]) if rest else 1.0
        except ValueError:
            return [ERR_VALUE]
        if attr == "minLevel":
            block.min_db = amount
            return ["+OK"]
        if attr == "maxLevel":
            block.max_db = amount
            return ["+OK"]
        current = block.level[i]
        target = amount if verb == "set" else current + (amount if verb == "increment" else -amount)
        self.set_level(tag, index, target)
        return ["+OK"]

    def _read(self, block: _Block, attr: str, i: int) -> Any:
        if attr == "mute":
            return block.mute[i]
        if attr == "minLevel":
            return block.min_db
        if attr == "maxLevel":
            return block.max_db
        return block.level[i]

    def _session_cmd(self, session: _Session, verb: str, args: list[str]) -> list[str]:
        if verb == "set" and len(args) >= 2 and args[0] == "verbose":
            session.verbose = args[1] == "true"
            return ["+OK"]
        if verb == "get" and args[:1] == ["aliases"]:
            return [self._ok(session, list(self.blocks))]
        if args:
            return [f"-ERR '{args[0]}' is not supported by TextSession::Attributes"]
        return [ERR_PARAMS]

    def _device_cmd(self, session: _Session, verb: str, args: list[str]) -> list[str]:
        if verb == "get" and args:
            values: dict[str, Any] = {
                "version": self.version,
                "serialNumber": self.serial_number,
                "hostname": self.hostname,
                "activeFaultList": self._fault_list(),
            }
            if args[0] not in values:
                return [f"-ERR '{args[0]}' is not supported by DeviceInterface::Attributes"]
            return [self._ok(session, values[args[0]])]
        if verb in ("recallPreset", "savePreset"):
            if not args or not args[0].isdigit():
                return [ERR_PARAMS]
            if verb == "recallPreset":
                self.recalled_presets.append(int(args[0]))
            return ["+OK"]
        return [ERR_VERB]

    def _fault_list(self) -> Any:
        if self.active_faults:
            return [_Raw(_object(f)) for f in self.active_faults]
        return [
            _Raw(
                '{"id":INDICATOR_NONE_IN_DEVICE "name":"No fault in device" "faults":[] '
                f'"serialNumber":"{self.serial_number}"}}'
            )
        ]

    def _ok(self, session: _Session, value: Any) -> str:
        return f'+OK "value":{_format(value)}' if session.verbose else f"+OK {_format(value)}"

    def _publish(self, tag: str, attr: str, index: int, value: Any) -> None:
        for session in list(self._sessions):
            sub = session.subs.get((tag, attr, index))
            if sub is not None and not session.writer.is_closing():
                session.writer.write((_push(sub[0], value) + "\r\n").encode())

    async def _move_meters(self) -> None:
        rng = random.Random(1)  # a fixed seed keeps runs repeatable
        while True:
            await asyncio.sleep(self.meter_interval_s)
            for tag, block in self.blocks.items():
                if block.kind != "meter":
                    continue
                for i in range(block.channels):
                    block.level[i] = round(max(-100.0, min(0.0, -30.0 + rng.uniform(-20, 20))), 1)
                    self._publish(tag, "level", i + 1, block.level[i])


def default_blocks() -> dict[str, dict[str, Any]]:
    """The blocks the demo profile's Tesira channels use."""
    return {
        "MicMute": {"type": "mute", "channels": 2},
        "ProgramLevel": {"type": "level", "channels": 1, "min": -100, "max": 12},
        "Meters": {"type": "meter", "channels": 2},
    }


class _Raw(str):
    """Already-formatted TTP text."""


def _format(value: Any) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{float(value):.6f}"
    if isinstance(value, list):
        return "[" + " ".join(_format(v) for v in value) + "]"
    if isinstance(value, dict):
        return _object(value)
    return '"' + str(value).replace('"', '\\"') + '"'


def _object(d: dict[str, Any]) -> str:
    return "{" + " ".join(f'"{k}":{_format(v)}' for k, v in d.items()) + "}"


def _push(label: str, value: Any) -> str:
    return f'! "publishToken":"{label}" "value":{_format(value)}'


def _split(line: str) -> list[str]:
    """Split on spaces, keeping "quoted tags" whole; ValueError on an open quote."""
    words: list[str] = []
    cur: list[str] = []
    quoted = False
    had = False
    for c in line:
        if c == '"':
            quoted = not quoted
            had = True
        elif c == " " and not quoted:
            if cur or had:
                words.append("".join(cur))
            cur, had = [], False
        else:
            cur.append(c)
    if quoted:
        raise ValueError(line)
    if cur or had:
        words.append("".join(cur))
    return words
