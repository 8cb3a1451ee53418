"""What every command shares: global options, profile loading, output, error to exit code."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from mcu_control.exitcodes import Exit

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from profiles.loader import LoadedProfile

T = TypeVar("T")


@dataclass
class Options:
    """Global options, set by the root callback and read by every command."""

    profile: Path | None = None
    json: bool = False
    quiet: bool = False
    verbose: int = 0


OPTIONS = Options()


def group(help_text: str) -> typer.Typer:
    """A command group; plain (non-rich) help keeps `--help` under 0.3 s."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def profile_path(explicit: Path | None = None) -> Path:
    """--profile, then MCU_CONTROL_PROFILE, then /etc/mcu-control/profile.yaml, then the demo."""
    if explicit is not None:
        return explicit
    if OPTIONS.profile is not None:
        return OPTIONS.profile
    env = os.environ.get("MCU_CONTROL_PROFILE")
    if env:
        return Path(env)
    from profiles.loader import default_profile_path

    return default_profile_path()


def load(explicit: Path | None = None) -> LoadedProfile:
    """Load the profile or exit 3 with every problem listed."""
    from devices.errors import ConfigError
    from profiles.loader import load_profile

    path = profile_path(explicit)
    try:
        return load_profile(path)
    except ConfigError as exc:
        fail_config(exc)


def fail_config(exc: Any) -> NoReturn:
    """Report a ConfigError (all its problems) and exit 3."""
    if OPTIONS.json:
        print_json(
            {"ok": False, "error": exc.message, "problems": [p.to_dict() for p in exc.problems]}
        )
    else:
        label = "profile error" if exc.problems else "error"  # problems are located in a file
        err_console().print(
            f"[bold red]{label}:[/] {escape(exc.message if not exc.problems else '')}"
        )
        for p in exc.problems:
            err_console().print(f"  {escape(str(p))}")
        if not exc.problems and exc.hint:
            err_console().print(f"  hint: {escape(exc.hint)}")
    raise typer.Exit(Exit.USAGE)


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)


@functools.cache
def console() -> Console:
    from rich.console import Console

    # not a terminal (cron, a log file, a pipe): wide enough that tables are not cut
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


@functools.cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def print_json(data: Any) -> None:
    """The stable machine form: UTF-8 JSON on stdout, one document per command."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def emit(data: Any, human: Callable[[], Table | str | None]) -> None:
    """Print `data` as JSON with --json, else whatever `human()` renders (unless --quiet)."""
    if OPTIONS.json:
        print_json(data)
        return
    if OPTIONS.quiet:
        return
    rendered = human()
    if rendered is not None:
        console().print(rendered)


def table(title: str, *columns: str) -> Table:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(col)
    return t


@contextmanager
def device_errors() -> Iterator[None]:
    """Turn the project's errors into a clear message and the documented exit code."""
    from devices.errors import ConfigError, McuControlError

    try:
        yield
    except ConfigError as exc:
        fail_config(exc)
    except McuControlError as exc:
        if OPTIONS.json:
            print_json({"ok": False, **exc.to_dict()})
        else:
            err_console().print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(Exit.CHECK_FAILED) from None


def require_audit() -> None:
    """Exit 3 naming the file, before anything is done, if the audit log cannot be written.

    Every command that changes a device or the schedule calls this first: an action that
    could not be audited is refused rather than done unrecorded (docs/operations.md).
    """
    from mcu_control.audit import AuditLog
    from mcu_control.paths import audit_path

    with device_errors():
        AuditLog(audit_path()).ensure_writable()


def audit_done(action: str, *, target: str | None = None, **data: Any) -> bool:
    """Record an action already done; if the log failed since `require_audit`, say so loudly.

    The action happened, so the command must not claim "nothing was done" (exit 3): the caller
    turns a False into exit 1 (a warning).
    """
    from mcu_control.audit import AuditLog, AuditUnavailableError
    from mcu_control.paths import audit_path

    log = AuditLog(audit_path())
    try:
        log.append(action, target=target, **data)
    except AuditUnavailableError as exc:
        err_console().print(
            f"[bold yellow]warning:[/] {escape(action)} on {escape(target or '-')} was done but "
            f"is NOT in the audit log: {escape(exc.message)}"
        )
        return False
    return True


def run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run one async operation for a command, with device errors mapped to exit codes."""
    import asyncio

    with device_errors():
        return asyncio.run(_as_coro(coro_factory))


async def _as_coro(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


def setup_logging(verbose: int) -> None:
    """-v: INFO, -vv: DEBUG; secrets are redacted on every handler."""
    from devices.secrets import install_log_redaction

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    install_log_redaction()
