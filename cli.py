"""mcu-control command line: parse, call the core, render (rich tables or --json).

Import cost matters: cron runs this every few minutes and `--help` must answer at once,
so command groups are small modules and drivers load inside the commands that use them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mcu_control import __version__
from mcu_control.commands.common import OPTIONS, setup_logging
from mcu_control.exitcodes import Exit

app = typer.Typer(
    name="mcu-control",
    help="Run the equipment of online citizen-reception sessions (tiếp công dân trực tuyến).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help renderer costs 0.12 s of start-up
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: (command name, module under mcu_control.commands) — each module exposes `app`
GROUPS: list[tuple[str, str]] = [
    ("profile", "profile"),
    ("schedule", "schedule"),
    ("mcu", "mcu"),
    ("camera", "camera"),
    ("mixer", "mixer"),
    ("codec", "codec"),
    ("report", "report"),
    ("audit", "audit"),
    ("sim", "sim"),
]

#: single commands: (command name, "module:function" under mcu_control.commands)
COMMANDS: list[tuple[str, str]] = [
    ("run", "run:command"),
    ("drill", "ops:drill"),
    ("bringup", "ops:bringup"),
    ("teardown", "ops:teardown"),
    ("status", "ops:status"),
    ("demo", "demo:command"),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mcu-control {__version__}")
        raise typer.Exit(Exit.OK)


@app.callback()
def root(
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            "-p",
            help="Site profile YAML [env MCU_CONTROL_PROFILE].",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON on stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")
    ] = 0,
    state_dir: Annotated[
        str | None,
        typer.Option(
            "--state-dir", help="State directory [env MCU_CONTROL_STATE_DIR].", show_default=False
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Global options apply to every command."""
    OPTIONS.profile = profile
    OPTIONS.json = json_out
    OPTIONS.quiet = quiet
    OPTIONS.verbose = verbose
    OPTIONS.timezone = None  # set when the command loads the profile
    if state_dir is not None:
        from mcu_control.paths import set_state_dir

        set_state_dir(state_dir)
    setup_logging(verbose)


for _name, _module in GROUPS:
    _sub = importlib.import_module(f"mcu_control.commands.{_module}").app
    app.add_typer(_sub, name=_name)

for _name, _target in COMMANDS:
    _module, _, _func = _target.partition(":")
    app.command(_name)(getattr(importlib.import_module(f"mcu_control.commands.{_module}"), _func))


_GLOBAL_FLAGS = {"--json", "--quiet", "-q"}
_GLOBAL_VALUED = {"--profile", "-p", "--state-dir"}


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move global options written after the command (`profile check X --json`) to the front.

    Technicians and cron lines put `--json` or `--profile` at the end; click only accepts
    them before the sub-command, so they are moved there.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if (
            arg in _GLOBAL_FLAGS
            or arg == "--verbose"
            or (arg.startswith("-v") and set(arg[1:]) == {"v"})
        ):
            front.append(arg)
        elif arg in _GLOBAL_VALUED and i + 1 < len(argv):
            front.extend(argv[i : i + 2])
            i += 1
        elif arg.startswith(("--profile=", "--state-dir=")):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: the one error boundary (docs/cli.md "Exit codes").

    Usage and environment mistakes exit 3 with what to fix, device failures 2, SIGINT/SIGTERM
    130/143, and only a bug exits 4; with `--json` every one of them prints the same shape.
    """
    from typer.exceptions import TyperException

    from devices.errors import ConfigError, McuControlError
    from mcu_control.commands.common import fail
    from mcu_control.exitcodes import Interrupted

    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    quick = _status_from_daemon(args)
    if quick is not None:
        sys.exit(quick)
    try:
        code = app(args=args, standalone_mode=False, prog_name="mcu-control")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(Exit.SIGINT)
    except TyperException as exc:  # usage errors: bad option, missing argument, bad value
        if "--json" in args:
            _exit_with(fail, ConfigError(exc.format_message(), hint="see --help"))
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"error: {exc.format_message()}\n")
        sys.exit(Exit.USAGE)
    except KeyboardInterrupt:
        _exit_with(fail, Interrupted(2))
    except (McuControlError, Interrupted) as exc:  # raised before or outside `run()`
        _exit_with(fail, exc)
    except Exception as exc:  # the last line of defence: no traceback for technicians
        if OPTIONS.verbose >= 2:
            raise
        if OPTIONS.json:
            _exit_with(fail, exc)
        from devices.secrets import redact

        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {redact(str(exc))} "
            "(a bug: run with -vv for the traceback and report it)\n"
        )
        sys.exit(Exit.INTERNAL)
    sys.exit(code if isinstance(code, int) else Exit.OK)


def _status_from_daemon(args: list[str]) -> int | None:
    """`status --json` answered by a running daemon before the option parser is built.

    Cron and panels poll it; parsing options costs typer's pydantic adapters (~0.3 s), the
    answer itself a few milliseconds. Anything but the plain form, or no daemon: None, and
    the normal command runs.
    """
    state: Path | None = None
    json_out, rest, i = False, [], 0
    while i < len(args):
        arg = args[i]
        if arg == "--json":
            json_out = True
        elif arg in ("--state-dir", "--profile", "-p") and i + 1 < len(args):
            state = Path(args[i + 1]) if arg == "--state-dir" else state
            i += 1
        elif arg.startswith("--state-dir="):
            state = Path(arg.partition("=")[2])
        elif not arg.startswith("--profile="):
            rest.append(arg)
        i += 1
    if rest != ["status"] or not json_out:
        return None
    from mcu_control.commands.common import print_json
    from mcu_control.paths import set_state_dir, state_dir
    from mcu_control.statusd import ask_daemon, exit_code

    if state is not None:
        set_state_dir(state)
    snap = ask_daemon(state_dir())
    if snap is None:
        return None
    OPTIONS.json = True
    OPTIONS.timezone = (snap.get("site") or {}).get("timezone")
    print_json(snap)
    return exit_code(snap)


def _exit_with(fail: Any, exc: BaseException) -> None:
    try:
        fail(exc)
    except typer.Exit as done:
        sys.exit(done.exit_code)


if __name__ == "__main__":
    main()
