"""mcu-control command line: parse, call the core, render (rich tables or --json).

Import cost matters: cron runs this every few minutes and `--help` must answer at once,
so command groups are small modules and drivers load inside the commands that use them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

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
    """Console-script entry point: usage errors exit 3, unexpected failures exit 4."""
    from typer.exceptions import TyperException

    from devices.errors import ConfigError

    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    try:
        code = app(args=args, standalone_mode=False, prog_name="mcu-control")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except TyperException as exc:  # usage errors: bad option, missing argument, bad value
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"error: {exc.format_message()}\n")
        sys.exit(Exit.USAGE)
    except KeyboardInterrupt:
        sys.exit(130)
    except ConfigError as exc:  # e.g. an unusable state directory, found before any device
        from mcu_control.commands.common import fail_config

        try:
            fail_config(exc)
        except typer.Exit as done:
            sys.exit(done.exit_code)
    except Exception as exc:  # the last line of defence: no traceback for technicians
        if OPTIONS.verbose >= 2:
            raise
        from devices.secrets import redact

        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {redact(str(exc))} "
            "(run with -vv for the traceback and report it)\n"
        )
        sys.exit(Exit.INTERNAL)
    sys.exit(code if isinstance(code, int) else Exit.OK)


if __name__ == "__main__":
    main()
