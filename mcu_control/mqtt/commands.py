"""Commands over MQTT: request parsing and reply shapes (pure; the feed does the I/O)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from devices.errors import DeviceTimeoutError, McuControlError
from profiles.schema import MqttAction

CommandHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
#: action -> `async def handler(params: dict) -> dict`; the daemon wires the orchestrator in
CommandRouter = Mapping[str, CommandHandler]

ACTIONS: tuple[str, ...] = get_args(MqttAction)
MAX_PAYLOAD = 64 * 1024
MAX_ID = 128


@dataclass(frozen=True, slots=True)
class CommandRequest:
    id: str
    params: dict[str, Any]


class MalformedCommandError(ValueError):
    """A command payload that is not `{"id": "...", "params": {...}}`."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


def parse_request(payload: bytes) -> CommandRequest:
    """Decode a request; MalformedCommandError (with the id if one was readable) otherwise."""
    if len(payload) > MAX_PAYLOAD:
        raise MalformedCommandError(f"payload larger than {MAX_PAYLOAD} bytes")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedCommandError(
            f"payload is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:  # in words, not Python's message
        raise MalformedCommandError(
            f"payload is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise MalformedCommandError("payload holds a number too long to read") from None
    except RecursionError:  # [[[[… 64 KiB deep
        raise MalformedCommandError("payload is nested too deeply") from None
    if not isinstance(data, dict):
        raise MalformedCommandError('payload must be a JSON object {"id": …, "params": {…}}')
    raw_id = data.get("id")
    request_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= MAX_ID else None
    if request_id is None:
        raise MalformedCommandError(f'"id" must be a non-empty string of at most {MAX_ID} chars')
    unknown = sorted(set(data) - {"id", "params"})
    if unknown:
        raise MalformedCommandError(f"unknown keys: {', '.join(unknown)}", request_id)
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise MalformedCommandError('"params" must be a JSON object', request_id)
    return CommandRequest(request_id, params)


def ok_reply(request_id: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def error_reply(
    request_id: str | None, code: str, message: str, *, kind: str | None = None
) -> dict[str, Any]:
    """`code`: what happened to the request; `kind`: the error's meaning (default: `code`).

    For a device error `kind` is the error's `kind` (devices/errors.py: timeout, not-found,
    authentication, …). `message` is plain words for the requester, never Python text.
    """
    error = {"code": code, "kind": kind or code, "message": message}
    return {"id": request_id, "ok": False, "error": error}


def device_error_reply(request_id: str | None, exc: McuControlError) -> dict[str, Any]:
    """`failed`, with what the error means (`kind`), which device, and whether it may apply."""
    error: dict[str, Any] = {
        "code": "failed",
        "message": str(exc),
        "kind": exc.kind,
        "device": exc.device,
        "retryable": exc.retryable,
    }
    if isinstance(exc, DeviceTimeoutError):
        error["may_have_applied"] = exc.may_have_applied
    return {"id": request_id, "ok": False, "error": error}


def response_topic_allowed(topic: str, prefix: str) -> bool:
    """An MQTT 5 response topic may not point at the feed's state, HA or a wildcard."""
    if (
        not topic
        or any(ch in topic for ch in "#+\x00")
        or topic.startswith(("$", "homeassistant/"))
    ):
        return False
    inside = topic == prefix or topic.startswith(prefix + "/")
    return not inside or (topic.startswith(prefix + "/cmd/") and topic.endswith("/reply"))
