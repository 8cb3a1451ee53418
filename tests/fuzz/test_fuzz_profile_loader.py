"""The profile loader: any text, and valid profiles with mutated fields, load or raise ConfigError."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_strategies import NASTY_NUMBER_TEXT, mutated
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import ConfigError
from profiles.loader import LoadedProfile, load_profile

pytestmark = pytest.mark.fuzz

#: a load costs ~10 ms: under the small CI budget these get half the examples; `fuzz` is untouched
_CI = settings().max_examples < 1000
budget = settings(max_examples=max(10, settings().max_examples // 2)) if _CI else settings()

DEMO = Path(__file__).resolve().parents[2] / "profiles" / "sites" / "demo.yaml"
DEMO_TEXT = DEMO.read_text(encoding="utf-8")
DEMO_DATA: dict[str, Any] = yaml.safe_load(DEMO_TEXT)

YAML_TEXT = st.lists(
    st.sampled_from(
        [
            *"abc:-[]{}&*!|>'\"#%@`,?. \n\t0123456789",
            *["site", "points", "id", "- ", ": ", "!!binary ", "!!timestamp ", "<<", "~", "null"],
            *["2024-02-30", "1" * 4400, "&a ", "*a", "\n  "],
        ]
    ),
    max_size=60,
).map("".join)
VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=12),
        NASTY_NUMBER_TEXT,
        st.dates(),
        st.datetimes(timezones=st.none() | st.just(dt.UTC)),
        st.sampled_from(["onvif", "visca-ip", "sip", "tesira-telnet", "snmp", "codian-xmlrpc"]),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(DEMO_DATA)


@st.composite
def mutated_profiles(draw: st.DrawFn) -> dict[str, Any]:
    """The demo profile with 1–4 edits: a value replaced, a key dropped or renamed, an item duplicated."""
    data = copy.deepcopy(DEMO_DATA)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            parent[last]  # the path may be gone after an earlier edit
        except (KeyError, IndexError, TypeError):
            continue
        op = draw(st.sampled_from(["replace", "replace", "drop", "rename", "duplicate"]))
        if op == "replace":
            parent[last] = draw(VALUES)
        elif op == "drop":
            del parent[last]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = parent.pop(last)
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return data


@pytest.fixture(scope="module")
def site_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file rewritten per example (models resolve from the shipped folder)."""
    return tmp_path_factory.mktemp("fuzz") / "sites" / "p.yaml"


def _load(path: Path, content: bytes) -> LoadedProfile | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    try:
        loaded = load_profile(path)
    except ConfigError as exc:
        message = str(exc)
    else:
        assert isinstance(loaded, LoadedProfile)
        return loaded
    assert str(path) in message
    return None


def test_the_unmutated_demo_profile_loads(site_file: Path) -> None:
    assert _load(site_file, DEMO_TEXT.encode()) is not None


@budget
@given(st.text(max_size=200) | YAML_TEXT)
def test_any_text_loads_or_raises_config_error(site_file: Path, text: str) -> None:
    _load(site_file, text.encode("utf-8", "surrogatepass"))


@budget
@given(mutated(DEMO_TEXT.encode()))
def test_byte_mutated_demo_loads_or_raises_config_error(site_file: Path, content: bytes) -> None:
    _load(site_file, content)


@budget
@given(mutated_profiles())
def test_field_mutated_demo_loads_or_raises_config_error(
    site_file: Path, data: dict[str, Any]
) -> None:
    _load(site_file, yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode())
