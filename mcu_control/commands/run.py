"""`mcu-control run` — the daemon (scheduler, state store, components) until SIGTERM."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from mcu_control.commands.common import OPTIONS, device_errors, load


def command(
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Job store URL: postgresql+psycopg://… for a redundant pair "
            "[env MCU_CONTROL_DATABASE_URL; default SQLite in the state dir].",
            show_default=False,
        ),
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--database-schema",
            help="PostgreSQL schema shared by the pair [env MCU_CONTROL_DATABASE_SCHEMA].",
            show_default=False,
        ),
    ] = None,
    node_id: Annotated[
        str | None,
        typer.Option(
            "--node-id", help="Name of this daemon in logs and job_runs (default host:pid)."
        ),
    ] = None,
    leader_poll: Annotated[
        float,
        typer.Option("--leader-poll", min=0.1, max=10, help="Seconds between lock checks."),
    ] = 2.0,
    mqtt_url: Annotated[
        str | None,
        typer.Option(
            "--mqtt-url",
            help="Broker URL, overriding the profile [env MCU_CONTROL_MQTT_URL]; with none, an "
            "embedded broker is started.",
            show_default=False,
        ),
    ] = None,
    mqtt_port: Annotated[
        int,
        typer.Option(
            "--mqtt-port", min=0, max=65535, help="Port of the embedded broker (0: any free)."
        ),
    ] = 1883,
    mqtt_bind: Annotated[
        str | None,
        typer.Option(
            "--mqtt-bind",
            help="Address the embedded broker listens on (default: the profile's "
            "mqtt.embedded_bind, 127.0.0.1). It has no authentication: MQTT commands are "
            "refused on it.",
            show_default=False,
        ),
    ] = None,
    no_embedded_broker: Annotated[
        bool,
        typer.Option(
            "--no-embedded-broker", help="Run without a feed when no broker is configured."
        ),
    ] = False,
    poll_interval: Annotated[
        float,
        typer.Option(
            "--poll-interval", min=1, max=3600, help="Seconds between device health reads."
        ),
    ] = 15.0,
    health_reads: Annotated[
        float,
        typer.Option(
            "--health-reads",
            min=0.1,
            max=10000,
            help="Cap on health reads per second across the site; a large site reads each "
            "device less often than --poll-interval instead of saturating the daemon.",
        ),
    ] = 8.0,  # mcu_control.app.DEFAULT_HEALTH_READS_PER_S; not imported: CLI start-up stays light
) -> None:
    """Run the daemon: plan and run drills, bring-up and teardown; SIGHUP reloads the profile."""
    import asyncio
    import logging

    from mcu_control.app import FeedOptions, build_daemon
    from mcu_control.commands.schedule import database_schema, database_url
    from mcu_control.daemon import DaemonConfig
    from mcu_control.paths import state_dir

    if OPTIONS.verbose == 0:
        logging.getLogger("mcu_control").setLevel(logging.INFO)
    loaded = load()
    with device_errors():
        bind = _bind_address(mqtt_bind)
    config = DaemonConfig(
        database_url=database_url(database),
        database_schema=database_schema(schema),
        leader_poll_s=leader_poll,
    )
    if node_id:
        config.node_id = node_id
    late = os.environ.get("MCU_CONTROL_LATE_AFTER_S")
    if late:
        config.late_after_s = float(late)
    stale = os.environ.get("MCU_CONTROL_JOB_STALE_AFTER_S")
    if stale:
        config.job_stale_after_s = float(stale)
    daemon = build_daemon(
        loaded,
        state_dir=state_dir(),
        config=config,
        feed=FeedOptions(
            url=mqtt_url,
            embedded=not no_embedded_broker,
            embedded_port=mqtt_port,
            embedded_bind=bind,
        ),
        supervise_interval_s=poll_interval,
        health_reads_per_s=health_reads,
    )
    asyncio.run(daemon.run())


def _bind_address(value: str | None) -> str | None:
    """`--mqtt-bind` as an IP address; a user mistake is a ConfigError (exit 3)."""
    if value is None:
        return None
    import ipaddress

    from devices.errors import ConfigError

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ConfigError(
            f"--mqtt-bind {value!r} is not an IP address",
            hint="give an address of this PC, e.g. 127.0.0.1 (the default) or 0.0.0.0 for all",
        ) from None
