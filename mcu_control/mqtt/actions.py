"""The typed contract of each MQTT command: request `params` and reply `result`.

These models are the source of the JSON Schemas in docs/schemas/mqtt-cmd-<action>-params.schema.json
and …-result.schema.json (`python tools/gen_mqtt_schemas.py` rewrites them; a test checks they
are current). The feed validates `params` against them before dispatch, so a handler only
ever sees well-typed values; a mistake is answered `bad-params` with a plain message.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    model_validator,
)

from profiles.schema import MqttAction

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,47}$"
PointId = Annotated[StrictStr, Field(pattern=ID_PATTERN, description="a point id of the profile")]
Points = Annotated[
    list[PointId] | PointId | None,
    Field(description="point ids (one id or a list); absent or null: every point"),
]
SESSION_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
SessionId = Annotated[
    StrictStr | None,
    Field(
        pattern=SESSION_PATTERN,
        description="a session id (profile rule, one-off, or added with `schedule add`): run "
        "with that session's roster and national flag; not with `points`",
    ),
]
Verdict = Literal["pass", "warn", "fail", "skipped"]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionParams(Params):
    """Params of an action that runs either named points or a session's roster."""

    model_config = ConfigDict(  # not both (a null one counts as absent)
        json_schema_extra={
            "not": {
                "required": ["session", "points"],
                "properties": {
                    "session": {"type": "string"},
                    "points": {"type": ["string", "array"]},
                },
            }
        }
    )
    points: Points = None
    session: SessionId = None

    @model_validator(mode="after")
    def _session_or_points(self) -> SessionParams:
        if self.session is not None and self.points is not None:
            raise ValueError(SESSION_AND_POINTS)
        return self


class DrillParams(SessionParams):
    """Run a drill now (what `mcu-control drill` does)."""

    quick: StrictBool = Field(False, description="the short drill: shorter test calls")


class DrillResult(Result):
    id: str
    label: str
    verdict: Verdict
    started_at: str
    finished_at: str | None
    points: dict[str, Verdict] = Field(description="point id -> its verdict")
    counts: dict[str, int] = Field(description="verdict -> how many points")
    session: str | None = Field(None, description="the session whose roster was drilled")
    national: bool = Field(False, description="the upstream (national) link was drilled too")


class BringupParams(SessionParams):
    """Bring the session up now: conference, dial, presets, unmute, recording."""


class BringupResult(Result):
    verdict: Verdict
    connected: int = Field(description="points in the conference")
    total: int
    recording: bool
    failed: dict[str, str] = Field(description="point id -> why it is not connected")
    session: str | None = Field(None, description="the session whose roster was brought up")
    national: bool = Field(False, description="the session joins the national office")


class TeardownParams(Params):
    """End the session: stop recording, hang up, mute the session microphones."""

    points: Points = None


class TeardownResult(Result):
    conference: str
    participants: dict[str, str] = Field(description="participant -> 'removed' or the error")
    microphones: dict[str, str] = Field(description="point id -> 'muted' or the error")
    ok: bool


class CameraPresetParams(Params):
    """Move one camera of a point to a named preset."""

    point: PointId
    camera: PointId | None = Field(None, description="camera id; default: the point's first")
    preset: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = Field(
        None, description="preset name (or token) of the camera; default: its session preset"
    )


class CameraPresetResult(Result):
    camera: str = Field(description="<point>.<camera>")
    preset: str = Field(description="the preset's name in the profile")
    token: str = Field(description="the camera's own preset token")
    arrived: bool = Field(description="the camera showed it arrived (position or completion)")
    reason: str = Field(description="the evidence, or why arrival is not shown")
    moving: bool | None = Field(description="observed moving; null when not observed")
    position: dict[str, float | None] | None = Field(
        default=None, description="the position read after the move, when the camera reports one"
    )


class MixerMuteParams(Params):
    """Mute or unmute one channel of a point's mixer."""

    point: PointId
    channel: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    muted: StrictBool


class MixerMuteResult(Result):
    mixer: str = Field(description="<point>.<mixer>")
    channel: str
    muted: bool = Field(description="the state read back from the mixer")


CONTRACTS: dict[str, tuple[type[Params], type[Result]]] = {
    "drill": (DrillParams, DrillResult),
    "bringup": (BringupParams, BringupResult),
    "teardown": (TeardownParams, TeardownResult),
    "camera-preset": (CameraPresetParams, CameraPresetResult),
    "mixer-mute": (MixerMuteParams, MixerMuteResult),
}


SESSION_AND_POINTS = (
    "`session` and `points` cannot be combined: the session's roster names its points; "
    "send one of them"
)
SESSION_HELP = (
    "`session` must be a session id (lowercase letters, digits, '-' and '_', up to 100 "
    "characters): a profile rule or one-off, or a session added with `schedule add`"
)
POINTS_HELP = (
    "`points` must be a point id or a list of point ids "
    "(lowercase letters, digits, '-' and '_', up to 48 characters)"
)


HELP = {"points": POINTS_HELP, "session": SESSION_HELP}


class BadParamsError(ValueError):
    """Params that do not match the action's schema; the message is for the requester."""


def validate_params(action: str, params: dict[str, Any]) -> dict[str, Any]:
    """The params checked against the action's schema (nulls dropped), or BadParamsError."""
    contract = CONTRACTS.get(action)
    if contract is None:
        return params
    try:
        model = contract[0].model_validate(params)
    except ValidationError as exc:
        first: dict[object, str] = {}  # one message per parameter (a union fails per branch)
        for error in exc.errors():
            field = error["loc"][0] if error["loc"] else ""
            text = HELP[field] if field in HELP else _plain(error)
            first.setdefault(field, text)
        raise BadParamsError("; ".join(first.values())) from None
    return model.model_dump(exclude_none=True)


def _plain(error: Any) -> str:
    """One pydantic error in words: '`muted` is required', '`quick` must be true or false'."""
    parts = [p for p in error["loc"] if isinstance(p, int) or ("[" not in p and "-" not in p)]
    loc = ".".join(str(p) for p in parts)
    where = f"`{loc}`" if loc else "params"
    kind = error["type"]
    if kind == "missing":
        return f"{where} is required"
    if kind == "extra_forbidden":
        return f"{where} is not a parameter of this action"
    if kind.startswith("bool"):
        return f"{where} must be true or false"
    if kind == "string_pattern_mismatch":
        return f"{where} must be an id: lowercase letters, digits, '-' and '_', up to 48 characters"
    if kind.startswith("string") or kind == "str_type":
        return f"{where} must be a text of 1 to 64 characters"
    if kind == "value_error":  # a model's own check, already in words
        return str(error["ctx"]["error"])
    if kind in ("list_type", "model_type", "dict_type"):
        return f"{where} has the wrong type"
    return f"{where}: {error['msg']}"


def schema_files() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for docs/schemas/."""
    out: dict[str, dict[str, Any]] = {}
    for action, (params, result) in CONTRACTS.items():
        for part, model in (("params", params), ("result", result)):
            schema = model.model_json_schema()
            name = f"mqtt-cmd-{action}-{part}.schema.json"
            schema = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"https://mcu-control.invalid/schemas/{name}",
                **schema,
                "title": f"…/cmd/{action} {'request params' if part == 'params' else 'reply result'}",
            }
            out[name] = schema
    return out


def _check_actions() -> None:
    from typing import get_args

    missing = set(get_args(MqttAction)) - set(CONTRACTS)
    if missing:  # pragma: no cover — caught at import by every test
        raise RuntimeError(f"no command contract for {sorted(missing)}")


_check_actions()
