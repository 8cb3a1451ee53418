"""Tesira Text Protocol (TTP), sans-IO: command lines out, typed replies in, Telnet filtering.

Replies (docs/protocols/tesira.md §5): ``+OK`` with optional ``"key":value`` pairs (verbose) or one bare
value (non-verbose), ``-ERR <reason>``, and ``! "publishToken":"<label>" "value":<v>`` for
subscriptions. Values are numbers, ``true``/``false``, quoted strings, arrays ``[a b]``,
objects ``{"k":v "k2":v2}`` and unquoted enum tokens (``INDICATOR_NONE_IN_DEVICE``). Every other
line (the echoed command, the welcome banner) is not a reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from devices.errors import DeviceError, InvalidParameterError, NotFoundError, ProtocolError

Value = Union[float, int, bool, str, "Enum", list["Value"], dict[str, "Value"], None]

BANNER = "Welcome to the Tesira Text Protocol Server"

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240


@dataclass(frozen=True, slots=True)
class Enum:
    """An unquoted token such as ``INDICATOR_NONE_IN_DEVICE``; compares equal to its text."""

    name: str

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Enum):
            return other.name == self.name
        return isinstance(other, str) and other == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Ok:
    """``+OK``; `fields` holds the ``"key":value`` pairs (a bare value is stored as ``value``)."""

    fields: dict[str, Value] = field(default_factory=dict)

    @property
    def value(self) -> Value:
        return self.fields.get("value")


@dataclass(frozen=True, slots=True)
class Err:
    """``-ERR <reason>``: the device understood the line and refused it."""

    reason: str

    @property
    def kind(self) -> str:
        """``unsupported`` (attribute not on this block type), ``address`` (unknown tag), ``parse`` or ``other``."""
        if "Interface::Attributes" in self.reason or "is not supported by" in self.reason:
            return "unsupported"
        if self.reason.startswith("address not found"):
            return "address"
        if self.reason.startswith("Parse error"):
            return "parse"
        return "other"


#: `Err.kind` by meaning; "unsupported" is a NotSupportedError, raised by the driver
ERR_KINDS: dict[str, type[DeviceError]] = {
    "address": NotFoundError,  # unknown instance tag
    "parse": InvalidParameterError,  # the model's template does not fit this firmware
}


def err_class(kind: str) -> type[DeviceError]:
    """The error class that says what a ``-ERR`` of this kind means."""
    return ERR_KINDS.get(kind, DeviceError)


@dataclass(frozen=True, slots=True)
class Publish:
    """``!`` subscription push: the custom label and the new value."""

    token: str
    value: Value
    fields: dict[str, Value] = field(default_factory=dict)


Reply = Ok | Err | Publish


def format_value(value: bool | float | str) -> str:
    """A value as TTP writes it: ``true``/``false``, plain numbers, strings quoted when needed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    if value == "" or re.search(r'[\s"]', value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def quote_tag(tag: str) -> str:
    """An instance tag as a command element: quoted when it holds a space."""
    return format_value(tag)


def encode(template: str, **values: bool | float | str) -> bytes:
    """Fill a model's command template and terminate it with LF; no control characters allowed."""
    rendered = {
        k: (quote_tag(v) if k == "block" and isinstance(v, str) else format_value(v))
        for k, v in values.items()
    }
    try:
        line = template.format(**rendered)
    except (KeyError, IndexError) as exc:
        raise ProtocolError(f"command template {template!r} needs {exc}") from None
    if any(ord(c) < 0x20 for c in line):
        raise ProtocolError(f"command {line!r} holds a control character")
    return line.encode("utf-8") + b"\n"


def parse_line(line: str) -> Reply | None:
    """One received line as a reply, or None for lines that are not replies (echo, banner, blank)."""
    text = line.strip("\r\n\x00 ")
    if text.startswith("+OK"):
        rest = text[3:].strip()
        if not rest:
            return Ok()
        if not rest.startswith('"') or not _looks_like_pairs(rest):
            return Ok({"value": parse_value(rest)})
        return Ok(parse_fields(rest))
    if text.startswith("-ERR"):
        return Err(text[4:].strip())
    if text.startswith("!"):
        fields = parse_fields(text[1:].strip())
        token = fields.get("publishToken")
        if not isinstance(token, str):
            raise ProtocolError(f"subscription push without a publishToken: {text[:80]!r}")
        return Publish(token=token, value=fields.get("value"), fields=fields)
    return None


def parse_fields(text: str) -> dict[str, Value]:
    """``"k":v "k2":v2`` → dict; ProtocolError on anything else."""
    parser = _Parser(text)
    out = parser.pairs(end=None)
    parser.expect_end()
    return out


def parse_value(text: str) -> Value:
    """One TTP value (number, boolean, string, array, object, enum token)."""
    parser = _Parser(text)
    value = parser.value()
    parser.expect_end()
    return value


class TelnetFilter:
    """Strip Telnet commands from a byte stream and produce the refusals a raw client owes.

    Every DO is answered WONT and every WILL DONT (docs/protocols/tesira.md §2: Tesira waits for the
    answers before it sends the banner). Sequences split across reads are kept for the next feed.
    """

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """(payload bytes, bytes to send back)."""
        buf = self._pending + data
        self._pending = b""
        out = bytearray()
        answer = bytearray()
        i = 0
        n = len(buf)
        while i < n:
            b = buf[i]
            if b != IAC:
                out.append(b)
                i += 1
                continue
            if i + 1 >= n:
                self._pending = buf[i:]
                break
            cmd = buf[i + 1]
            if cmd == IAC:  # escaped 255 data byte
                out.append(IAC)
                i += 2
            elif cmd in (DO, DONT, WILL, WONT):
                if i + 2 >= n:
                    self._pending = buf[i:]
                    break
                opt = buf[i + 2]
                if cmd == DO:
                    answer += bytes((IAC, WONT, opt))
                elif cmd == WILL:
                    answer += bytes((IAC, DONT, opt))
                i += 3
            elif cmd == SB:
                end = buf.find(bytes((IAC, SE)), i + 2)
                if end < 0:
                    self._pending = buf[i:]
                    break
                i = end + 2
            else:  # NOP, GA, … two-byte commands
                i += 2
        return bytes(out), bytes(answer)


class LineSplitter:
    """Bytes in, complete text lines out (LF-terminated; CR ignored)."""

    def __init__(self, max_line: int = 65536) -> None:
        self._buf = b""
        self._max = max_line

    def feed(self, data: bytes) -> list[str]:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        if len(self._buf) > self._max:
            self._buf = b""
            raise ProtocolError(f"a reply line exceeded {self._max} bytes without a line feed")
        return [ln.rstrip(b"\r").decode("utf-8", errors="replace") for ln in lines]


# --------------------------------------------------------------------------- helpers

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def _looks_like_pairs(text: str) -> bool:
    return re.match(r'"(?:[^"\\]|\\.)*"\s*:', text) is not None


_MAX_DEPTH = 32  # real replies nest three or four levels; deeper is garbage


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def fail(self, what: str) -> ProtocolError:
        snippet = self.text[max(0, self.pos - 10) : self.pos + 20]
        return ProtocolError(f"TTP reply not understood at {self.pos} ({what}): …{snippet!r}…")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t,":
            self.pos += 1

    def expect_end(self) -> None:
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.fail("trailing characters")

    def pairs(self, end: str | None) -> dict[str, Value]:
        out: dict[str, Value] = {}
        while True:
            self.skip_ws()
            if self.pos >= len(self.text):
                if end is not None:
                    raise self.fail(f"missing {end!r}")
                return out
            if end is not None and self.text[self.pos] == end:
                self.pos += 1
                return out
            if self.text[self.pos] != '"':
                raise self.fail("expected a quoted key")
            key = self.string()
            self.skip_ws()
            if self.pos >= len(self.text) or self.text[self.pos] != ":":
                raise self.fail("expected ':' after a key")
            self.pos += 1
            self.skip_ws()
            out[key] = self.value()

    def value(self) -> Value:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise self.fail("nested too deeply")
            return self._value()
        finally:
            self.depth -= 1

    def _value(self) -> Value:
        self.skip_ws()
        if self.pos >= len(self.text):
            raise self.fail("missing value")
        c = self.text[self.pos]
        if c == '"':
            return self.string()
        if c == "[":
            self.pos += 1
            items: list[Value] = []
            while True:
                self.skip_ws()
                if self.pos >= len(self.text):
                    raise self.fail("missing ']'")
                if self.text[self.pos] == "]":
                    self.pos += 1
                    return items
                items.append(self.value())
        if c == "{":
            self.pos += 1
            return self.pairs(end="}")
        m = _NUMBER.match(self.text, self.pos)
        if m and (m.end() == len(self.text) or self.text[m.end()] in " \t,]}"):
            self.pos = m.end()
            num = m.group()
            try:
                return float(num) if any(ch in num for ch in ".eE") else int(num)
            except ValueError:  # more than int()'s 4300 digits
                raise self.fail("number out of range") from None
        m = _TOKEN.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            word = m.group()
            if word == "true":
                return True
            if word == "false":
                return False
            if word == "null":
                return None
            return Enum(word)
        raise self.fail("unexpected character")

    def string(self) -> str:
        assert self.text[self.pos] == '"'
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if c == '"':
                self.pos += 1
                return "".join(out)
            out.append(c)
            self.pos += 1
        raise self.fail("unterminated string")
