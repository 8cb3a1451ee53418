"""The leaked-task guard in conftest really fails a test that leaves a task running."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parent / "conftest.py"


def test_leaked_task_fails_the_test(pytester: pytest.Pytester) -> None:
    shutil.copy(CONFTEST, pytester.path / "conftest.py")
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        test_leak="""
import asyncio

async def test_leaks():
    asyncio.get_running_loop().create_task(asyncio.sleep(30), name="forgotten")

async def test_clean():
    task = asyncio.get_running_loop().create_task(asyncio.sleep(0))
    await task
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)  # the leaking test errors in teardown
    result.stdout.fnmatch_lines(["*left 1 task(s) running: forgotten*"])
