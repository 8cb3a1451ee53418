"""SIP OPTIONS, sans-IO: build the request, frame and parse the response (RFC 3261 §11)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from devices.errors import ProtocolError

_STATUS = re.compile(r"^SIP/2\.0 (\d{3}) ?(.*)$")


@dataclass(frozen=True, slots=True)
class OptionsRequest:
    """One OPTIONS request and the identifiers its response must echo."""

    data: bytes
    call_id: str
    branch: str


@dataclass(frozen=True, slots=True)
class SipResponse:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.status >= 200

    @property
    def status_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}".rstrip()


def build_options(
    target: str,
    *,
    transport: str,
    local_host: str,
    local_port: int,
    call_id: str | None = None,
    branch: str | None = None,
    tag: str | None = None,
) -> OptionsRequest:
    """An OPTIONS request for `target` (a sip: URI or host[:port]) with fresh identifiers."""
    uri = target if target.startswith(("sip:", "sips:")) else f"sip:{target}"
    call_id = call_id or f"{secrets.token_hex(8)}@mcu-control"
    branch = branch or f"z9hG4bK{secrets.token_hex(8)}"
    tag = tag or secrets.token_hex(4)
    lines = [
        f"OPTIONS {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport.upper()} {local_host}:{local_port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:mcu-control@{local_host}>;tag={tag}",
        f"To: <{uri}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:mcu-control@{local_host}:{local_port}>",
        "Accept: application/sdp",
        "User-Agent: mcu-control",
        "Content-Length: 0",
    ]
    return OptionsRequest(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"), call_id, branch)


def message_length(buffer: bytes) -> int | None:
    """Bytes of the first complete message in a TCP stream, or None while incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > 65536:
            raise ProtocolError("no end of SIP headers within 64 KiB")
        return None
    head = buffer[:end].decode("utf-8", "replace")
    match = re.search(r"^(?:content-length|l)\s*:\s*([0-9]+)\s*$", head, re.I | re.M)
    digits = match.group(1).lstrip("0") if match else ""
    if len(digits) > 6:  # also keeps int() clear of its 4300-digit limit
        raise ProtocolError(f"SIP Content-Length {digits[:20]}… is beyond any OPTIONS answer")
    body = int(digits or "0")
    total = end + 4 + body
    return total if len(buffer) >= total else None


def parse_response(data: bytes) -> SipResponse:
    """A SIP response; ProtocolError for anything that is not one."""
    text = data.decode("utf-8", "replace")
    head = text.split("\r\n\r\n", 1)[0].replace("\r\n", "\n")
    lines = head.split("\n")
    match = _STATUS.match(lines[0].strip()) if lines else None
    if match is None:
        raise ProtocolError(f"not a SIP response: {lines[0][:60]!r}" if lines else "empty reply")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        if line[0] in " \t" and headers:  # folded continuation line
            last = next(reversed(headers))
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"malformed SIP header line {line[:60]!r}")
        headers[_canonical(name.strip())] = value.strip()
    return SipResponse(int(match.group(1)), match.group(2).strip(), headers)


def matches(response: SipResponse, request: OptionsRequest) -> bool:
    """True if `response` answers `request` (same Call-ID and Via branch)."""
    if response.headers.get("Call-ID") != request.call_id:
        return False
    via = response.headers.get("Via", "")
    return request.branch in via


_COMPACT = {
    "i": "Call-ID",
    "v": "Via",
    "f": "From",
    "t": "To",
    "l": "Content-Length",
    "m": "Contact",
}


def _canonical(name: str) -> str:
    lower = name.lower()
    if lower in _COMPACT:
        return _COMPACT[lower]
    if lower == "call-id":
        return "Call-ID"
    if lower == "cseq":
        return "CSeq"
    return "-".join(part.capitalize() for part in lower.split("-"))
