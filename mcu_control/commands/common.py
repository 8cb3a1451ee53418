"""What every command shares: global options, profile loading, output, error to exit code."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

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
    timezone: str | None = None  # the site's, once a profile is loaded


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
        loaded = load_profile(path)
    except ConfigError as exc:
        fail_config(exc)
    if is_rig_profile(loaded.path):
        # the same default `sim up` and `demo` use, so `sim up` in one terminal and any
        # command in another agree on it (only the simulated rig accepts this secret)
        from mcu_control.commands.sim import ensure_demo_secret

        ensure_demo_secret()
    OPTIONS.timezone = loaded.profile.site.timezone
    return loaded


def is_rig_profile(path: Path) -> bool:
    """Whether `path` is the shipped demo profile or one `sim up` localized for the rig
    (every device simulated, every secret in MCU_CONTROL_DEMO_SECRET)."""
    from hil.genprofile import is_localized
    from profiles.loader import SHIPPED_SITES

    try:
        return path.resolve() == (SHIPPED_SITES / "demo.yaml").resolve() or is_localized(path)
    except OSError:
        return False


def site_tz() -> dt.tzinfo:
    """The site's time zone: the loaded profile's, else the profile's if it loads, else +07."""
    import zoneinfo

    if OPTIONS.timezone is None:
        from devices.errors import ConfigError
        from profiles.loader import load_profile
        from profiles.schema import DEFAULT_TIMEZONE

        try:
            OPTIONS.timezone = load_profile(profile_path()).profile.site.timezone
        except ConfigError:
            OPTIONS.timezone = DEFAULT_TIMEZONE
    return zoneinfo.ZoneInfo(OPTIONS.timezone)


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def site_time(value: str, fmt: str | None = None) -> str:
    """An ISO 8601 instant shown in site time: ISO with the site's offset, or `fmt`."""
    if not isinstance(value, str) or not _INSTANT.match(value):
        return value
    when = dt.datetime.fromisoformat(value).astimezone(site_tz())
    return when.strftime(fmt) if fmt else when.isoformat()


def _in_site_time(data: Any) -> Any:
    if isinstance(data, str):
        return site_time(data)
    if isinstance(data, dict):
        return {k: _in_site_time(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_in_site_time(v) for v in data]
    return data


def fail_config(exc: Any) -> NoReturn:
    """Report a ConfigError (all its problems) and exit 3."""
    fail(exc)


def fail(exc: BaseException) -> NoReturn:
    """The error boundary: print `exc` (human, or the one JSON shape) and exit with its code."""
    from devices.errors import ConfigError
    from mcu_control.exitcodes import Interrupted, classify, error_payload

    code = classify(exc)
    if OPTIONS.json:
        print_json(error_payload(exc, code))
    elif isinstance(exc, Interrupted):
        err_console().print(f"[bold yellow]{escape(exc.summary)}[/]")
    elif isinstance(exc, ConfigError):
        label = "profile error" if exc.problems else "error"
        err_console().print(
            f"[bold red]{label}:[/] {escape(exc.message if not exc.problems else '')}"
        )
        for p in exc.problems:
            err_console().print(f"  {escape(str(p))}")
        if not exc.problems and exc.hint:
            err_console().print(f"  hint: {escape(exc.hint)}")
    else:
        err_console().print(f"[bold red]error:[/] {escape(str(exc))}")
    raise typer.Exit(code)


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)


@functools.cache
def console() -> Console:
    from rich.console import Console

    # not a terminal (cron, a log file, a pipe): wide enough that tables are not cut, and
    # text never hard-wrapped (soft_wrap): one message stays one line for grep and log parsers
    tty = sys.stdout.isatty()
    return Console(highlight=False, width=None if tty else 160, soft_wrap=not tty)


@functools.cache
def err_console() -> Console:
    from rich.console import Console

    tty = sys.stderr.isatty()
    return Console(stderr=True, highlight=False, width=None if tty else 160, soft_wrap=not tty)


def print_json(data: Any, *, verbatim: bool = False) -> None:
    """The stable machine form: UTF-8 JSON on stdout, one document per command.

    Instants (ISO 8601 with an offset) are given with the site's offset (+07:00), the same
    instant people see in the tables; `verbatim` keeps records exactly as stored (audit).
    """
    if not verbatim and OPTIONS.timezone is not None:
        data = _in_site_time(data)
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
    from devices.errors import McuControlError
    from mcu_control.exitcodes import Interrupted

    try:
        yield
    except (McuControlError, Interrupted) as exc:
        fail(exc)


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


def run(
    coro_factory: Callable[[], Awaitable[T]], *, summary: Callable[[], str | None] | None = None
) -> T:
    """Run one async operation for a command, with errors mapped to exit codes.

    SIGINT and SIGTERM cancel the operation (so it stops starting device actions at once and
    cleans up) and end the command with 130 / 143 and `summary()`'s one line.
    """
    import asyncio

    with device_errors():
        return asyncio.run(_interruptible(coro_factory, summary))


async def _interruptible(
    factory: Callable[[], Awaitable[T]], summary: Callable[[], str | None] | None
) -> T:
    import asyncio
    import signal

    from mcu_control.exitcodes import Interrupted

    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    assert me is not None
    got: list[int] = []

    def on_signal(signum: int) -> None:
        if not got:
            got.append(signum)
            me.cancel()

    handled = (signal.SIGINT, signal.SIGTERM)
    for sig in handled:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await factory()
    except asyncio.CancelledError:
        if not got:
            raise
        raise Interrupted(got[0], summary() if summary else None) from None
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def setup_logging(verbose: int) -> None:
    """-v: INFO, -vv: DEBUG; secrets are redacted on every handler."""
    from devices.secrets import install_log_redaction

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    install_log_redaction()
