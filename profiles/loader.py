"""Load a site profile: YAML with line numbers, schema validation, model references.

Every problem is reported with the file, the dotted field path (``points[3].cameras[0].port``)
and the YAML line, all at once, so a technician fixes a profile in one pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from devices.errors import ConfigError, ConfigProblem
from profiles.camera import CameraModel
from profiles.common import SecretFileModeWarning, SecretRef, driver_spec
from profiles.mcu import McuModel, cascade_dial_string
from profiles.mixer import MixerModel
from profiles.schema import OneOffSession, Profile, SessionRule

SHIPPED_DIR = Path(__file__).resolve().parent
SHIPPED_SITES = SHIPPED_DIR / "sites"
SHIPPED_MODELS = SHIPPED_DIR / "models"

DeviceModel = CameraModel | MixerModel | McuModel
_MODEL_TYPES: dict[str, type[BaseModel]] = {
    "camera": CameraModel,
    "mixer": MixerModel,
    "mcu": McuModel,
}


@dataclass(frozen=True)
class LoadedProfile:
    """A validated profile with the device models it references, resolved."""

    profile: Profile
    path: Path
    models: dict[str, DeviceModel] = field(default_factory=dict)

    def model(self, name: str) -> DeviceModel:
        return self.models[name]

    def camera_model(self, name: str) -> CameraModel:
        m = self.models[name]
        assert isinstance(m, CameraModel)
        return m

    def mixer_model(self, name: str) -> MixerModel:
        m = self.models[name]
        assert isinstance(m, MixerModel)
        return m

    def mcu_model(self, name: str) -> McuModel:
        m = self.models[name]
        assert isinstance(m, McuModel)
        return m


def load_profile(path: str | Path, *, models_dirs: list[Path] | None = None) -> LoadedProfile:
    """Load and validate; raise ConfigError listing every problem found."""
    path = Path(path)
    data, root = _read_yaml(path)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = [_problem_from_error(err, root, path) for err in exc.errors()]
        raise _config_error(path, problems) from None

    search = [*(models_dirs or []), path.resolve().parent.parent / "models", SHIPPED_MODELS]
    models: dict[str, DeviceModel] = {}
    problems = []
    for where, kind, name in _model_references(profile):
        if name in models:
            found: DeviceModel | None = models[name]
        else:
            found, problem = _load_model(name, search)
            if problem is not None:
                problems.append(_locate(ConfigProblem(where, problem, file=str(path)), root))
                continue
            assert found is not None
            models[name] = found
        if found is not None and found.kind != kind:
            msg = f"model {name!r} is a {found.kind} model, not a {kind} model"
            problems.append(_locate(ConfigProblem(where, msg, file=str(path)), root))
    problems += _cross_checks(profile, models, root, path)
    problems += _site_plan_checks(profile, models, root, path)
    if problems:
        raise _config_error(path, problems)
    return LoadedProfile(profile=profile, path=path, models=models)


def load_model_file(path: Path) -> DeviceModel:
    """Load one device model YAML file."""
    data, root = _read_yaml(path)
    kind = data.get("kind") if isinstance(data, dict) else None
    model_type = _MODEL_TYPES.get(str(kind))
    if model_type is None:
        raise _config_error(
            path,
            [
                ConfigProblem(
                    "kind", f"kind must be one of {', '.join(_MODEL_TYPES)}", file=str(path)
                )
            ],
        )
    try:
        model = model_type.model_validate(data)
    except ValidationError as exc:
        raise _config_error(
            path, [_problem_from_error(e, root, path) for e in exc.errors()]
        ) from None
    assert isinstance(model, CameraModel | MixerModel | McuModel)
    return model


@dataclass(frozen=True)
class SecretCheck:
    """What resolving every secret reference found: missing sources, group/world-readable files."""

    checked: int
    problems: list[ConfigProblem]
    warnings: list[ConfigProblem]


def check_secrets(loaded: LoadedProfile) -> SecretCheck:
    """Resolve every secret the profile references (values discarded at once, never shown).

    One entry per distinct source (an env variable or file used by nine cameras is one
    problem), located at its first use.
    """
    _, root = _read_yaml(loaded.path)
    uses: dict[str, list[tuple[str, SecretRef]]] = {}
    for where, ref in _secret_refs(loaded.profile, ""):
        uses.setdefault(ref.describe(), []).append((where, ref))
    problems: list[ConfigProblem] = []
    loose: list[ConfigProblem] = []
    for source, found in uses.items():
        where, ref = found[0]
        more = len(found) - 1
        also = f" (and {more} more field{'s' if more > 1 else ''})" if more else ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SecretFileModeWarning)
            try:
                ref.resolve(base_dir=loaded.path.parent)
            except ConfigError as exc:
                hint = f"; {exc.hint}" if exc.hint else ""
                msg = f"secret {source}{also}: {exc.message}{hint}"
                problems.append(_locate(ConfigProblem(where, msg, file=str(loaded.path)), root))
                continue
        for w in caught:
            if issubclass(w.category, SecretFileModeWarning):
                msg = f"secret {source}{also}: {w.message}"
                loose.append(_locate(ConfigProblem(where, msg, file=str(loaded.path)), root))
    return SecretCheck(checked=len(uses), problems=problems, warnings=loose)


def default_profile_path() -> Path:
    """/etc/mcu-control/profile.yaml when present, else the shipped demo profile."""
    etc = Path("/etc/mcu-control/profile.yaml")
    return etc if etc.exists() else SHIPPED_SITES / "demo.yaml"


# --------------------------------------------------------------------------- helpers

#: libyaml's safe loader where available: ten times faster, same marks and results
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"profile file {path} does not exist", hint="check --profile") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    try:
        _check_depth(text, path)
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 — _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = ConfigProblem(
            "", f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path), line=line
        )
        raise _config_error(path, [problem]) from None
    except (ValueError, ArithmeticError, LookupError, AttributeError, TypeError) as exc:
        # PyYAML's constructor on a scalar it cannot build: 2024-02-30 as a date, an integer of
        # more than 4300 digits, explicit tags on junk (`!!timestamp x`, `!!int`, `!!bool x`)
        problem = ConfigProblem("", f"not valid YAML: {type(exc).__name__}: {exc}", file=str(path))
        raise _config_error(path, [problem]) from None
    if not isinstance(data, dict):
        raise _config_error(
            path, [ConfigProblem("", "the file must hold a mapping", file=str(path), line=1)]
        )
    return data, root


#: real profiles nest six levels; libyaml's composer recurses in C and crashes near 50 000
_MAX_DEPTH = 64


def _check_depth(text: str, path: Path) -> None:
    """Refuse absurd nesting before composing (the event parser itself does not recurse)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > _MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                problem = ConfigProblem(
                    "", f"nested deeper than {_MAX_DEPTH} levels", file=str(path), line=line
                )
                raise _config_error(path, [problem])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def _secret_refs(node: Any, where: str) -> Iterator[tuple[str, SecretRef]]:
    """Every SecretRef under a validated model, with its dotted path (``points[2].mcu.password``)."""
    if isinstance(node, SecretRef):
        yield where, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _secret_refs(getattr(node, name), f"{where}.{name}" if where else name)
    elif isinstance(node, list | tuple):
        for i, item in enumerate(node):
            yield from _secret_refs(item, f"{where}[{i}]")
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from _secret_refs(item, f"{where}.{key}" if where else str(key))


def _config_error(path: Path, problems: list[ConfigProblem]) -> ConfigError:
    noun = "problem" if len(problems) == 1 else "problems"
    detail = "; ".join(str(p) for p in problems[:3])
    return ConfigError(f"{path}: {len(problems)} {noun}: {detail}", problems=problems)


def _problem_from_error(err: Any, root: yaml.Node | None, path: Path) -> ConfigProblem:
    loc = tuple(err.get("loc", ()))
    dotted, line = _walk(root, loc)
    message = _in_words(err) or str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return ConfigProblem(dotted, message, file=str(path), line=line)


#: the forms a technician knows by name, keyed by the schema's regular expression
_PATTERN_WORDS = {
    r"^[a-z0-9][a-z0-9_-]{0,47}$": (
        "an id is lowercase letters (no diacritics), digits, '-' and '_', starting with a "
        "letter or digit, up to 48 characters"
    ),
    r"^[A-Za-z0-9.\-:\[\]]+$": "a host is an IP address or a DNS name",
    r"^[0-9]{1,31}$": "digits only, up to 31",
    r"^[NEOMS]$": "one of N, E, O, M, S",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "an environment variable name (letters, digits, '_')",
}


def _in_words(err: Any) -> str | None:
    """The product's own sentence for a pydantic error type (not the library's wording)."""
    kind = err.get("type")
    ctx = err.get("ctx") or {}
    given = err.get("input")
    words: dict[str, str] = {
        "extra_forbidden": "unknown key (check the spelling; see docs/profiles.md)",
        "missing": "is required but missing",
        "int_parsing": f"must be a whole number, not {given!r}",
        "int_type": f"must be a whole number, not {given!r}",
        "int_from_float": f"must be a whole number, not {given!r}",
        "float_parsing": f"must be a number, not {given!r}",
        "float_type": f"must be a number, not {given!r}",
        "bool_parsing": f"must be true or false, not {given!r}",
        "string_type": f"must be text, not {given!r}",
        "less_than_equal": f"must be at most {ctx.get('le')}, not {given!r}",
        "less_than": f"must be less than {ctx.get('lt')}, not {given!r}",
        "greater_than_equal": f"must be at least {ctx.get('ge')}, not {given!r}",
        "greater_than": f"must be more than {ctx.get('gt')}, not {given!r}",
        "too_short": f"needs at least {ctx.get('min_length')} item(s)",
        "too_long": f"takes at most {ctx.get('max_length')} item(s)",
        "string_too_short": f"needs at least {ctx.get('min_length')} character(s)",
        "string_too_long": f"takes at most {ctx.get('max_length')} characters",
        "union_tag_invalid": (
            f"unknown kind {ctx.get('tag')!r}; use one of {ctx.get('expected_tags')}"
        ),
        "literal_error": f"must be one of {ctx.get('expected')}, not {given!r}",
        "enum": f"must be one of {ctx.get('expected')}, not {given!r}",
    }
    if kind == "string_pattern_mismatch":
        form = _PATTERN_WORDS.get(str(ctx.get("pattern")))
        return (
            f"{given!r} is not valid: {form}" if form else f"{given!r} is not of the expected form"
        )
    return words.get(str(kind))


def _walk(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[str, int | None]:
    """Follow a pydantic location through the YAML node tree: dotted path and line."""
    node = root
    line = root.start_mark.line + 1 if root is not None else None
    parts: list[str] = []
    for i, key in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            parts.append(f"[{key}]")
            node = node.value[key] if key < len(node.value) else None
        elif isinstance(node, yaml.MappingNode):
            found = None
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    found = (k, v)
                    break
            if found is None and not last:
                continue  # a union tag pydantic adds to the location, not a real key
            parts.append(f".{key}" if parts else str(key))
            if found is None:
                break
            line = found[0].start_mark.line + 1
            node = found[1]
            continue
        else:
            parts.append(f"[{key}]" if isinstance(key, int) else (f".{key}" if parts else str(key)))
            node = None
        if node is not None:
            line = node.start_mark.line + 1
    return "".join(parts), line


def _site_plan_checks(
    profile: Profile, models: dict[str, DeviceModel], root: yaml.Node | None, path: Path
) -> list[ConfigProblem]:
    """Rosters and groups (profiles/roster.py), the site's MCUs and points' preferred MCU."""
    from profiles import roster

    found = [ConfigProblem(where, msg, file=str(path)) for where, msg in roster.problems(profile)]
    host = profile.mcu.id
    ids = [host, *(m.id for m in profile.mcus)]
    for mi, mcu in enumerate(profile.mcus):
        if ids.count(mcu.id) > 1:
            msg = f"MCU id {mcu.id!r} is used twice (the host MCU is {host!r})"
            found.append(ConfigProblem(f"mcus[{mi}].id", msg, file=str(path)))
        mcm = models.get(mcu.model)
        fam = {"codian-xmlrpc": "codian", "rmx-xml": "rmx"}[mcu.driver]
        if cascade_dial_string(mcu) is None:
            msg = (
                f"MCU {mcu.id!r} cannot be cascaded into the host: give its conference a "
                "`numeric_id` (dialled as sip:<numeric_id>@<host>) or set `cascade_address`"
            )
            found.append(ConfigProblem(f"mcus[{mi}].conference.numeric_id", msg, file=str(path)))
        if isinstance(mcm, McuModel) and mcm.family != fam:
            msg = f"model {mcu.model!r} is a {mcm.family} MCU, but the driver is {mcu.driver}"
            found.append(ConfigProblem(f"mcus[{mi}].driver", msg, file=str(path)))
    if profile.upstream is None:
        national: list[tuple[str, SessionRule | OneOffSession]] = [
            (f"sessions.rules[{i}]", r) for i, r in enumerate(profile.sessions.rules)
        ]
        national += [(f"sessions.one_off[{i}]", o) for i, o in enumerate(profile.sessions.one_off)]
        for where, sess in national:
            if sess.national:
                msg = f"session {sess.id!r} is national, but the profile has no `upstream` link"
                found.append(ConfigProblem(f"{where}.national", msg, file=str(path)))
    for pi, point in enumerate(profile.points):
        if point.preferred_mcu is not None and point.preferred_mcu not in ids:
            msg = f"no MCU {point.preferred_mcu!r} at the site (MCUs: {', '.join(ids)})"
            found.append(ConfigProblem(f"points[{pi}].preferred_mcu", msg, file=str(path)))
    return [_locate(p, root) for p in found]


def capacity_warnings(loaded: LoadedProfile) -> list[ConfigProblem]:
    """Sessions whose roster needs more video ports than the site's MCUs have (a warning)."""
    from profiles import roster
    from profiles.placement import place_roster

    p = loaded.profile
    sessions: list[tuple[str, SessionRule | OneOffSession]] = [
        (f"sessions.rules[{i}]", r) for i, r in enumerate(p.sessions.rules)
    ]
    sessions += [(f"sessions.one_off[{i}]", o) for i, o in enumerate(p.sessions.one_off)]
    found: list[ConfigProblem] = []
    for where, sess in sessions:
        sid = sess.id
        points = roster.resolve(p, sess.roster).points
        plan = place_roster(p, loaded.models, points, upstream=sess.national)
        if plan.left_out:
            msg = (
                f"session {sid!r}: its roster needs {plan.needed} video ports "
                f"({len(points)} points"
                + (", recorder" if plan.recorder else "")
                + (", national link" if plan.upstream else "")
                + (f", {len(plan.capacity) - 1} cascade links" if len(plan.capacity) > 1 else "")
                + f"), the MCUs have {plan.available}: {plan.shortfall} point(s) would be left "
                f"out ({', '.join(plan.left_out[:5])}{', …' if plan.shortfall > 5 else ''}); "
                "split the roster or add an MCU"
            )
            found.append(ConfigProblem(f"{where}.roster", msg, file=str(loaded.path)))
    root = _read_yaml(loaded.path)[1] if found else None
    return [_locate(f, root) for f in found]


def _locate(problem: ConfigProblem, root: yaml.Node | None) -> ConfigProblem:
    loc: list[Any] = []
    for piece in problem.path.replace("[", ".[").split("."):
        if not piece:
            continue
        loc.append(int(piece[1:-1]) if piece.startswith("[") else piece)
    _, line = _walk(root, tuple(loc))
    problem.line = line
    return problem


def _model_references(profile: Profile) -> list[tuple[str, str, str]]:
    refs: list[tuple[str, str, str]] = []
    for pi, point in enumerate(profile.points):
        for ci, cam in enumerate(point.cameras):
            refs.append((f"points[{pi}].cameras[{ci}].model", "camera", cam.model))
        if point.mixer is not None:
            refs.append((f"points[{pi}].mixer.model", "mixer", point.mixer.model))
        if point.mcu is not None:
            refs.append((f"points[{pi}].mcu.model", "mcu", point.mcu.model))
    for mi, mcu in enumerate(profile.mcus):
        refs.append((f"mcus[{mi}].model", "mcu", mcu.model))
    return refs


def _load_model(name: str, search: list[Path]) -> tuple[DeviceModel | None, str | None]:
    for directory in search:
        candidate = directory / f"{name}.yaml"
        if candidate.is_file():
            try:
                return load_model_file(candidate), None
            except ConfigError as exc:
                return None, f"model {name!r} is invalid: {exc.message}"
    return None, f"unknown model {name!r} (no {name}.yaml in {', '.join(str(d) for d in search)})"


def _participant_names(profile: Profile, mcu: McuModel, path: Path) -> list[ConfigProblem]:
    """The recorder's participant name (its id) over the MCU model's limit, before the wire.

    Points need no such check: their participant names follow profiles/naming.py, which
    shortens a long id to a stem and a digest that fit (collisions are the schema's check).
    """
    limit = mcu.participant_name_max
    if limit is None:
        return []
    out: list[ConfigProblem] = []
    for pi, point in enumerate(profile.points):
        rec = point.recorder
        if rec is not None and len(rec.id) > limit:
            msg = (
                f"{rec.id!r} is {len(rec.id)} characters; the MCU ({mcu.name}) accepts participant "
                f"names of at most {limit}: shorten it"
            )
            out.append(ConfigProblem(f"points[{pi}].recorder.id", msg, file=str(path)))
    return out


def _cross_checks(
    profile: Profile, models: dict[str, DeviceModel], root: yaml.Node | None, path: Path
) -> list[ConfigProblem]:
    """Checks that need both the profile and its models."""
    problems: list[ConfigProblem] = []
    for pi, point in enumerate(profile.points):
        for ci, cam in enumerate(point.cameras):
            model = models.get(cam.model)
            if not isinstance(model, CameraModel):
                continue
            expected = driver_spec("PtzCamera", cam.driver).protocol
            if model.protocol != expected:
                msg = f"model {cam.model!r} speaks {model.protocol}, but the driver is {cam.driver}"
                problems.append(
                    ConfigProblem(f"points[{pi}].cameras[{ci}].driver", msg, file=str(path))
                )
            if model.visca is not None and expected == "visca":
                lo, hi = model.visca.preset_min, model.visca.preset_max
                for name, number in cam.presets.items():
                    if not lo <= int(number) <= hi:
                        msg = f"preset {name!r} = {number} is outside {cam.model}'s range {lo}–{hi}"
                        problems.append(
                            ConfigProblem(
                                f"points[{pi}].cameras[{ci}].presets", msg, file=str(path)
                            )
                        )
        mixer = point.mixer
        if mixer is not None and isinstance(models.get(mixer.model), MixerModel):
            mm = models[mixer.model]
            assert isinstance(mm, MixerModel)
            expected = driver_spec("AudioMixer", mixer.driver).protocol
            if mm.protocol != expected:
                msg = (
                    f"model {mixer.model!r} speaks {mm.protocol}, but the driver is {mixer.driver}"
                )
                problems.append(ConfigProblem(f"points[{pi}].mixer.driver", msg, file=str(path)))
        mcu = point.mcu
        if mcu is not None and isinstance(models.get(mcu.model), McuModel):
            fam = driver_spec("Mcu", mcu.driver).protocol
            mcm = models[mcu.model]
            assert isinstance(mcm, McuModel)
            if mcm.family != fam:
                msg = f"model {mcu.model!r} is a {mcm.family} MCU, but the driver is {mcu.driver}"
                problems.append(ConfigProblem(f"points[{pi}].mcu.driver", msg, file=str(path)))
            problems += _participant_names(profile, mcm, path)
    return [_locate(p, root) for p in problems]
