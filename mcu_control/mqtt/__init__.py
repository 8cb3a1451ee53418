"""MQTT status feed for room panels and Home Assistant; optional commands. See docs/mqtt.md."""

from mcu_control.mqtt.commands import CommandHandler, CommandRouter
from mcu_control.mqtt.config import URL_ENV, parse_url, resolve_url
from mcu_control.mqtt.feed import MqttFeed, RejectedPublish

__all__ = [
    "URL_ENV",
    "CommandHandler",
    "CommandRouter",
    "MqttFeed",
    "RejectedPublish",
    "parse_url",
    "resolve_url",
]
