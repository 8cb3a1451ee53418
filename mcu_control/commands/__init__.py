"""CLI command groups; each module exposes `app`, a typer.Typer registered by cli.py.

Modules here import only typer and the shared helpers at import time, so that
`mcu-control --help` stays fast; drivers and heavy libraries load inside commands.
"""
