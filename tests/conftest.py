"""Shared fixtures: leaked-task guard, free ports, profile helpers; Hypothesis budgets."""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
SITES = ROOT / "profiles" / "sites"

pytest_plugins = ["pytester"]

# Hypothesis budgets (docs/testing.md): `ci`, the default, keeps every property test (tests/fuzz)
# quick and deterministic; `HYPOTHESIS_PROFILE=fuzz` (make fuzz) gives each 100 000 fresh inputs.
settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("FUZZ_CI_EXAMPLES", "100")),
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=100_000,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every async test under tests/ gets the leaked-task guard (hil/ has its own fixtures)."""
    for item in items:
        func = getattr(item, "obj", None)
        if item.path.is_relative_to(ROOT / "hil"):
            continue
        if func is not None and inspect.iscoroutinefunction(func):
            item.fixturenames.append("_no_leftover_tasks")  # type: ignore[attr-defined]


@pytest.fixture
async def _no_leftover_tasks() -> AsyncIterator[None]:
    """Fail a test that returns while tasks it started are still running."""
    yield
    current = asyncio.current_task()
    await asyncio.sleep(0)  # let tasks that are finishing finish
    leftover = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in leftover:
        task.cancel()
    if leftover:
        await asyncio.gather(*leftover, return_exceptions=True)
        names = ", ".join(
            sorted(
                t.get_name() + ":" + getattr(t.get_coro(), "__qualname__", "?") for t in leftover
            )
        )
        pytest.fail(f"test left {len(leftover)} task(s) running: {names}")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 for the given socket type, chosen by the kernel."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def demo_profile_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SITES / "demo.yaml").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def write_profile(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Write a profile dict to <tmp>/sites/p.yaml (models resolve from the shipped folder)."""

    def _write(data: dict[str, Any]) -> Path:
        (tmp_path / "sites").mkdir(exist_ok=True)
        path = tmp_path / "sites" / "p.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    return _write
