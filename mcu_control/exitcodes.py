"""Exit codes, documented in docs/cli.md and relied on by cron jobs."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    WARNINGS = 1
    CHECK_FAILED = 2
    USAGE = 3
    INTERNAL = 4
