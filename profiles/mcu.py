"""Profile sections for the MCU, its conference and the recorder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

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
    #: the MCU records the conference itself (RMX: START_RECORDING over its own recording
    #: link, proven by the conference's recording status) instead of dialling the recorder
    records_itself: bool = False
    #: the dial string another MCU of the site calls to join this MCU's conference (a cascade
    #: link, docs/mcu.md "Cascading"); default `sip:<conference.numeric_id>@<host>`
    cascade_address: str | None = Field(default=None, min_length=1, max_length=63)

    @model_validator(mode="after")
    def _records_itself_supported(self) -> McuConfig:
        from drivers.registry import RECORDS_ITSELF, spec

        if self.records_itself and RECORDS_ITSELF not in spec("Mcu", self.driver).features:
            raise ValueError(
                f"records_itself: the {self.driver} driver cannot make the MCU record by itself "
                "(only the Polycom RMX family, driver rmx-xml, can); remove it and let the MCU "
                "dial the recorder"
            )
        return self


def cascade_dial_string(cfg: McuConfig) -> str | None:
    """What the host MCU dials to join `cfg`'s conference (None: no numeric id to dial)."""
    if cfg.cascade_address:
        return cfg.cascade_address
    numeric = cfg.conference.numeric_id
    return f"sip:{numeric}@{cfg.host}" if numeric else None


class RecordingStorage(Strict):
    """Where the recorder's files land, as the control PC reads them: the proof that it records.

    The daemon expects a new file matching `pattern` in `directory` within `window_min` minutes
    of the bring-up, and that it keeps growing (no growth for `window_min` is a stall).
    """

    directory: Path  # absolute (local disk, NFS/SMB mount), or relative to the state directory
    pattern: str = Field(default="*.mp4", min_length=1, max_length=100)
    window_min: float = Field(default=5.0, gt=0, le=240)
    check_interval_s: float | None = Field(default=None, gt=0, le=300)  # None: window / 6, ≤ 15 s

    @field_validator("directory")
    @classmethod
    def _directory(cls, value: Path) -> Path:
        if not str(value).strip() or ".." in value.parts:
            raise ValueError("a directory such as /mnt/ghi-hinh (no `..`)")
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if "/" in value or "\\" in value or value.strip(".") == "" or "\0" in value:
            raise ValueError("a file-name pattern such as *.mp4 (no directory part)")
        return value

    def resolved(self, state_dir: Path) -> Path:
        """The directory to watch: relative paths are under the state directory."""
        return self.directory if self.directory.is_absolute() else state_dir / self.directory

    @property
    def interval_s(self) -> float:
        if self.check_interval_s is not None:
            return self.check_interval_s
        return min(15.0, max(0.2, self.window_min * 60 / 6))


class RecorderConfig(Strict):
    """The recording link: a participant the MCU dials so the session is recorded centrally."""

    id: Slug
    name: str = "Ghi hình"
    protocol: Literal["sip", "h323"] = "sip"
    address: str = Field(min_length=1, max_length=63)
    host: Host
    port: Port | None = None
    bitrate_kbps: int = Field(default=2048, ge=64, le=8192)
    storage: RecordingStorage | None = None  # optional check that files are written


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
