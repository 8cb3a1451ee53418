"""Profile section for a point's video codec (reachability and dial address)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from profiles.common import Host, Port, Slug, Strict, Timeout, driver_spec, registered


class DialAddress(Strict):
    protocol: Literal["sip", "h323"]
    address: str = Field(min_length=1, max_length=63)


class CodecConfig(Strict):
    id: Slug
    name: str = "Codec"
    driver: Annotated[str, AfterValidator(registered("Codec"))]
    model: str | None = None
    address: str = Field(min_length=1, max_length=63)  # what the MCU dials
    host: Host  # what reachability checks probe
    port: Port | None = None  # default 5060 (SIP) or 1720 (H.323)
    transport: Literal["udp", "tcp"] = "udp"
    bitrate_kbps: int = Field(default=4096, ge=64, le=8192)
    timeout_s: Timeout = 2.0
    alternates: list[DialAddress] = Field(default_factory=list)

    @model_validator(mode="after")
    def _sip_address_form(self) -> CodecConfig:
        if self.driver == "sip" and not self.address.startswith(("sip:", "sips:")):
            raise ValueError("a SIP codec address starts with sip: (e.g. sip:tien-du@10.20.3.10)")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or driver_spec("Codec", self.driver).default_port or 5060
