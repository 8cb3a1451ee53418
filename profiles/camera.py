"""Profile sections for PTZ cameras and camera models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from profiles.common import (
    Host,
    Port,
    SecretRef,
    SerialLink,
    Slug,
    Strict,
    Timeout,
    check_link,
    driver_spec,
    registered,
    registered_protocol,
)

#: a key of drivers/registry.py for a PtzCamera
CameraDriver = Annotated[str, AfterValidator(registered("PtzCamera"))]


class CameraConfig(Strict):
    id: Slug
    name: str = "Camera"
    driver: CameraDriver
    model: str
    host: Host | None = None
    port: Port | None = None
    serial: SerialLink | None = None
    visca_address: int = Field(default=1, ge=1, le=7)
    username: str | None = None
    password: SecretRef | None = None
    profile_token: str | None = None  # ONVIF media profile; first PTZ profile when absent
    presets: dict[str, str] = Field(min_length=1)  # display name → device token / number
    session_preset: str
    timeout_s: Timeout = 3.0

    @model_validator(mode="after")
    def _transport_fields(self) -> CameraConfig:
        spec = driver_spec("PtzCamera", self.driver)
        check_link(spec, "camera", dict(self))
        if self.session_preset not in self.presets:
            raise ValueError(
                f"session_preset {self.session_preset!r} is not one of the presets "
                f"({', '.join(self.presets)})"
            )
        if spec.protocol == "visca":
            for name, number in self.presets.items():
                if not number.isdigit():
                    raise ValueError(
                        f"VISCA preset {name!r} must be a memory number, not {number!r}"
                    )
        return self

    @property
    def effective_port(self) -> int | None:
        if self.port is not None:
            return self.port
        return driver_spec("PtzCamera", self.driver).default_port


class ViscaModel(Strict):
    preset_min: int = Field(default=0, ge=0)
    preset_max: int = Field(ge=0, le=255)
    pan_min: int
    pan_max: int
    tilt_min: int
    tilt_max: int
    zoom_max: int = Field(gt=0)
    pan_speed_max: int = Field(default=0x18, ge=1, le=0x18)
    tilt_speed_max: int = Field(default=0x14, ge=1, le=0x17)
    baudrate: int = 9600


class OnvifModel(Strict):
    settle_tolerance: float = Field(default=0.01, gt=0, le=0.5)
    whole_second_timeouts: bool = False
    move_status_unknown: bool = False


class CameraModel(Strict):
    kind: Literal["camera"]
    name: str
    manufacturer: str
    description: str = ""
    protocol: Annotated[str, AfterValidator(registered_protocol("PtzCamera"))]
    visca: ViscaModel | None = None
    onvif: OnvifModel | None = None

    @model_validator(mode="after")
    def _section(self) -> CameraModel:
        if self.protocol == "visca" and self.visca is None:
            raise ValueError("a visca camera model needs a `visca:` section")
        return self
