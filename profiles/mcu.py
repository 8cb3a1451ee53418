"""Profile sections for the MCU, its conference and the recorder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from profiles.common import (
    Host,
    Port,
    SecretRef,
    Slug,
    Strict,
    Timeout,
    registered,
    registered_protocol,
)

#: a key of drivers/registry.py for an Mcu
McuDriver = Annotated[str, AfterValidator(registered("Mcu"))]


class ConferenceConfig(Strict):
    name: str = Field(min_length=1, max_length=31)  # Codian string limit
    numeric_id: str | None = Field(default=None, pattern=r"^[0-9]{1,31}$")
    pin: SecretRef | None = None
    duration_min: int = Field(default=0, ge=0, le=1440)  # 0: permanent


class McuConfig(Strict):
    id: Slug
    name: str = "MCU"
    driver: McuDriver
    model: str
    host: Host
    port: Port | None = None
    tls: bool = True
    ca_file: Path | None = None
    verify_tls: bool = True
    username: str = Field(min_length=1)
    password: SecretRef
    timeout_s: Timeout = 5.0
    conference: ConferenceConfig


class RecorderConfig(Strict):
    """The recording link: a participant the MCU dials so the session is recorded centrally."""

    id: Slug
    name: str = "Ghi hình"
    protocol: Literal["sip", "h323"] = "sip"
    address: str = Field(min_length=1, max_length=63)
    host: Host
    port: Port | None = None
    bitrate_kbps: int = Field(default=2048, ge=64, le=8192)


class McuModel(Strict):
    kind: Literal["mcu"]
    name: str
    manufacturer: str
    description: str = ""
    family: Annotated[str, AfterValidator(registered_protocol("Mcu"))]
    max_conferences: int = Field(ge=1)
    max_video_ports: int = Field(ge=1)
    conferences_per_page: int = Field(default=4, ge=1)
    #: the longest participant name the MCU accepts (Codian API strings: 31); None: unknown
    participant_name_max: int | None = Field(default=None, ge=1)
    supports_layout: bool = True
