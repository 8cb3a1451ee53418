"""The one retry policy: only retryable errors of the kinds asked for, a bounded number of times."""

from __future__ import annotations

import pytest

from devices.errors import (
    DeviceBusyError,
    DeviceTimeoutError,
    InvalidParameterError,
    McuControlError,
)
from drivers.retry import RetryPolicy


async def _failing(errors: list[McuControlError], calls: list[int]) -> str:
    calls.append(1)
    if errors:
        raise errors.pop(0)
    return "done"


async def test_busy_is_retried_until_it_passes() -> None:
    calls: list[int] = []
    errors: list[McuControlError] = [DeviceBusyError("busy"), DeviceBusyError("busy")]
    policy = RetryPolicy(attempts=3, pause_s=0)
    assert await policy.run(lambda: _failing(errors, calls)) == "done"
    assert len(calls) == 3


async def test_attempts_are_bounded() -> None:
    calls: list[int] = []
    errors: list[McuControlError] = [DeviceBusyError("busy") for _ in range(5)]
    with pytest.raises(DeviceBusyError):
        await RetryPolicy(attempts=3, pause_s=0).run(lambda: _failing(errors, calls))
    assert len(calls) == 3


async def test_a_permanent_error_is_never_retried_even_if_listed() -> None:
    calls: list[int] = []
    errors: list[McuControlError] = [InvalidParameterError("bad")]
    policy = RetryPolicy(attempts=5, pause_s=0, on=(InvalidParameterError,))
    with pytest.raises(InvalidParameterError):
        await policy.run(lambda: _failing(errors, calls))
    assert len(calls) == 1


async def test_a_retryable_kind_not_asked_for_is_not_retried() -> None:
    """A timed-out move may have been applied: the VISCA policy retries busy only."""
    calls: list[int] = []
    errors: list[McuControlError] = [DeviceTimeoutError("late", may_have_applied=True)]
    with pytest.raises(DeviceTimeoutError):
        await RetryPolicy(attempts=5, pause_s=0).run(lambda: _failing(errors, calls))
    assert len(calls) == 1
