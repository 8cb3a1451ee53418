"""The site profile: one province's installation, its points, devices, sessions and feed."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from ipaddress import IPv4Address
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    IPvAnyAddress,
    field_validator,
    model_validator,
)

from profiles.camera import CameraConfig
from profiles.codec import CodecConfig
from profiles.common import SecretRef, Slug, Strict, parse_duration
from profiles.mcu import McuConfig, RecorderConfig
from profiles.mixer import MixerConfig

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


class SiteInfo(Strict):
    id: Slug
    name: str = Field(min_length=1)
    timezone: str = DEFAULT_TIMEZONE

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name such as Asia/Ho_Chi_Minh"
            ) from None
        return value


class LinkConfig(Strict):
    bandwidth_mbps: float = Field(default=50, gt=0, le=10000)
    provider: str | None = None


class PointConfig(Strict):
    id: Slug
    name: str = Field(min_length=1)
    role: Literal["central", "component"] = "component"
    link: LinkConfig = LinkConfig()
    codec: CodecConfig
    cameras: list[CameraConfig] = Field(min_length=1, max_length=4)
    mixer: MixerConfig | None = None
    mcu: McuConfig | None = None
    recorder: RecorderConfig | None = None
    # groups a session roster can name (e.g. xa-phuong, so-nganh); see profiles/roster.py
    groups: list[Slug] = Field(default_factory=list)
    # the MCU (an id from the host `mcu` or `mcus:`) this point is dialled on when it has room
    preferred_mcu: Slug | None = None

    @model_validator(mode="after")
    def _central_devices(self) -> PointConfig:
        if self.role == "component" and (self.mcu is not None or self.recorder is not None):
            raise ValueError("only the central point holds the `mcu` and the `recorder`")
        if self.role == "central" and self.mcu is None:
            raise ValueError("the central point needs its `mcu`")
        ids = [self.codec.id, *(c.id for c in self.cameras)]
        ids += [d.id for d in (self.mixer, self.mcu, self.recorder) if d is not None]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"device ids must be unique within a point: {', '.join(dupes)}")
        return self


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class QuarterlyRule(Strict):
    kind: Literal["quarterly"]
    day: int = Field(ge=1, le=31)
    month_of_quarter: int = Field(default=3, ge=1, le=3)  # 3: the last month of each quarter


class MonthlyRule(Strict):
    kind: Literal["monthly"]
    day: int = Field(ge=1, le=31)


class WeeklyRule(Strict):
    kind: Literal["weekly"]
    weekday: Weekday


class NthWeekdayRule(Strict):
    kind: Literal["nth-weekday"]
    n: int = Field(ge=-1, le=5)  # -1: the last one of the month
    weekday: Weekday

    @field_validator("n")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("n counts from 1 (or -1 for the last)")
        return value


Recurrence = Annotated[
    QuarterlyRule | MonthlyRule | WeeklyRule | NthWeekdayRule, Field(discriminator="kind")
]
ShiftPolicy = Literal["next-working-day", "previous-working-day", "keep"]


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]


def _time_not_sexagesimal(value: object) -> object:
    if isinstance(value, int):
        # pydantic reports ValueError to the user, not TypeError
        raise ValueError(  # noqa: TRY004
            'write the time in quotes, e.g. start: "10:30" (YAML reads 10:30 as a number)'
        )
    return value


StartTime = Annotated[dt.time, BeforeValidator(_time_not_sexagesimal)]


class SessionRule(Strict):
    id: Slug
    title: str = Field(min_length=1)
    recurrence: Recurrence
    start: StartTime
    duration: Duration = "3h"
    shift: ShiftPolicy = "next-working-day"
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    # who joins: `all`, group names and/or point ids (the central point always joins)
    roster: list[Slug] = Field(default_factory=lambda: ["all"], min_length=1)
    national: bool = False  # joins the national reception office through `upstream`


class OneOffSession(Strict):
    id: Slug
    title: str = Field(min_length=1)
    date: dt.date
    start: StartTime
    duration: Duration = "3h"
    roster: list[Slug] = Field(default_factory=lambda: ["all"], min_length=1)
    national: bool = False


class UpstreamConfig(Strict):
    """The link to the national reception office (Trụ sở Tiếp công dân Trung ương)."""

    name: str = Field(default="Trụ sở Tiếp công dân Trung ương", min_length=1)
    address: str = Field(min_length=1, max_length=63)  # its conference's dial string
    protocol: Literal["sip", "h323"] = "sip"
    # who places the call: our host MCU dials out, or the national office dials into our
    # host conference (then the address is what we expect to see connected)
    dials: Literal["host", "national"] = "host"
    bandwidth_kbps: int = Field(default=2048, ge=64, le=8192)


class SessionPlan(Strict):
    """When the regulation's drills and the bring-up run, relative to the session start."""

    drills_before: list[Duration] = Field(default_factory=lambda: ["1d", "2h"])
    bringup_before: Duration = "15m"
    # "working": a drill a whole number of days ahead that lands on a weekend or public holiday
    # runs on the working day before, at the same time (no technician is in on a Sunday);
    # "any": exactly at T−N days
    drill_days: Literal["working", "any"] = "working"


class SessionLimits(Strict):
    """What `schedule add` and `schedule move` accept (docs/scheduler.md)."""

    min_duration: Duration = "5m"
    max_duration: Duration = "12h"
    horizon_days: int = Field(default=730, ge=1, le=3650)  # how far ahead a session may be set

    @model_validator(mode="after")
    def _ordered(self) -> SessionLimits:
        if parse_duration(self.min_duration) > parse_duration(self.max_duration):
            raise ValueError("min_duration is longer than max_duration")
        return self


class SessionsConfig(Strict):
    plan: SessionPlan = SessionPlan()
    limits: SessionLimits = SessionLimits()
    rules: list[SessionRule] = Field(default_factory=list)
    one_off: list[OneOffSession] = Field(default_factory=list)


class DrillConfig(Strict):
    """Thresholds and timings of the pre-session drill."""

    call_seconds: float = Field(default=5.0, gt=0, le=120)  # media counters read this long
    quick_call_seconds: float = Field(default=1.0, gt=0, le=60)
    connect_timeout_s: float = Field(default=30.0, gt=0, le=300)
    loss_warn_pct: float = Field(default=1.0, ge=0, le=100)  # Cisco QoS baseline: ≤ 1 %
    loss_fail_pct: float = Field(default=5.0, ge=0, le=100)  # MCU packetLossCritical trips at ~5 %
    clock_warn_s: float = Field(default=5.0, gt=0)  # ONVIF tokens fail beyond a few seconds
    check_timeout_s: float = Field(default=60.0, gt=0, le=600)
    conference: str = Field(default="", max_length=31)  # default: "<session conference>-KT"


class BringupConfig(Strict):
    """How hard bring-up tries before it escalates a point."""

    dial_attempts: int = Field(default=3, ge=1, le=10)
    retry_backoff_s: float = Field(default=2.0, ge=0, le=60)
    retry_backoff_max_s: float = Field(default=15.0, ge=0, le=300)
    connect_timeout_s: float = Field(default=30.0, gt=0, le=300)
    preset_timeout_s: float = Field(default=15.0, gt=0, le=120)
    poll_interval_s: float = Field(default=0.5, gt=0, le=10)


MqttAction = Literal["drill", "bringup", "teardown", "camera-preset", "mixer-mute"]


class MqttCommands(Strict):
    enabled: bool = False
    allow: list[MqttAction] = Field(default_factory=list)
    timeout_s: int = Field(default=900, ge=1, le=7200)  # a drill of 9 points takes minutes


class MqttConfig(Strict):
    url: str | None = None  # None: the daemon embeds a demo broker / runs without a feed
    # address the embedded broker binds when `url` is None; it has no authentication, so
    # anything but loopback exposes the feed to the LAN (commands stay refused there)
    embedded_bind: IPvAnyAddress = IPv4Address("127.0.0.1")
    prefix: str | None = Field(
        default=None, pattern=r"^[^#+$/][^#+]*$"
    )  # default mcu-control/<site id>
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: SecretRef | None = None
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    keepalive_s: int = Field(default=15, ge=5, le=600)
    heartbeat_s: int = Field(default=60, ge=5, le=3600)
    reconnect_max_s: int = Field(default=30, ge=1, le=600)  # backoff from 1 s doubles up to this
    homeassistant: bool = False
    commands: MqttCommands = MqttCommands()


class Profile(Strict):
    site: SiteInfo
    points: list[PointConfig] = Field(min_length=1)
    # further MCUs at the site (the central point's `mcu` is the host); profiles/placement.py
    mcus: list[McuConfig] = Field(default_factory=list)
    upstream: UpstreamConfig | None = None  # sessions with `national: true` use it
    sessions: SessionsConfig = SessionsConfig()
    drill: DrillConfig = DrillConfig()
    bringup: BringupConfig = BringupConfig()
    mqtt: MqttConfig = MqttConfig()

    @model_validator(mode="after")
    def _site_rules(self) -> Profile:
        central = [p.id for p in self.points if p.role == "central"]
        if len(central) != 1:
            found = ", ".join(central) if central else "none"
            raise ValueError(f"exactly one point has role: central (found {found})")
        ids = [p.id for p in self.points]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"point ids must be unique: {', '.join(dupes)}")
        rule_ids = [r.id for r in self.sessions.rules] + [s.id for s in self.sessions.one_off]
        dupes = sorted({i for i in rule_ids if rule_ids.count(i) > 1})
        if dupes:
            raise ValueError(f"session ids must be unique: {', '.join(dupes)}")
        from profiles.naming import name_limit, name_problems

        central_point = self.central
        mcu = central_point.mcu
        if mcu is not None:
            from profiles.naming import reserved_names

            limit = name_limit(mcu.driver)
            rec = central_point.recorder.id if central_point.recorder else None
            reserved = reserved_names([m.id for m in self.mcus], rec, limit)
            problems = name_problems(ids, reserved, limit)
            if problems:
                raise ValueError("; ".join(problems))
        return self

    @property
    def central(self) -> PointConfig:
        return next(p for p in self.points if p.role == "central")

    @property
    def mcu(self) -> McuConfig:
        mcu = self.central.mcu
        assert mcu is not None  # guaranteed by PointConfig validation
        return mcu

    def point(self, point_id: str) -> PointConfig:
        for p in self.points:
            if p.id == point_id:
                return p
        raise KeyError(point_id)
