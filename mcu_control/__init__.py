"""mcu-control core: orchestrator, supervisors, state store, MQTT feed, audit log, daemon."""

__version__ = "0.1.0"
