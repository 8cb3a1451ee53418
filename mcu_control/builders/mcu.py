"""Build the site's MCU driver, its conference and the participants it dials, from a profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from devices.errors import ConfigError
from devices.interfaces import CallProtocol, ConferenceSpec, Mcu, ParticipantSpec
from profiles.naming import name_limit, participant_name

if TYPE_CHECKING:
    from devices.secrets import Secret
    from drivers.codian.driver import CodianMcu
    from drivers.rmx.driver import RmxMcu
    from profiles.loader import LoadedProfile
    from profiles.mcu import McuConfig
    from profiles.schema import PointConfig


def central(loaded: LoadedProfile) -> tuple[PointConfig, McuConfig]:
    """The central point and its MCU section."""
    for point in loaded.profile.points:
        if point.role == "central" and point.mcu is not None:
            return point, point.mcu
    raise ConfigError("the profile has no central point with an `mcu` section")


def build(loaded: LoadedProfile, cfg: McuConfig | None = None) -> Mcu:
    """The MCU driver of the central point, or of the site MCU `cfg` (a secondary, `mcus:`)."""
    from mcu_control.builders import build as build_any

    point, host = central(loaded)
    cfg = cfg or host
    mcu = build_any("Mcu", cfg.driver, loaded, point, cfg)
    assert isinstance(mcu, Mcu)
    return mcu


def build_codian(loaded: LoadedProfile, point: PointConfig, cfg: McuConfig) -> CodianMcu:
    from drivers.codian.driver import CodianMcu

    return CodianMcu(f"{point.id}.{cfg.id}", **_http_settings(loaded, cfg))


def build_rmx(loaded: LoadedProfile, point: PointConfig, cfg: McuConfig) -> RmxMcu:
    from drivers.rmx.driver import RmxMcu

    return RmxMcu(
        f"{point.id}.{cfg.id}", records_itself=cfg.records_itself, **_http_settings(loaded, cfg)
    )


class _HttpSettings(TypedDict):
    host: str
    port: int | None
    tls: bool
    username: str
    password: Secret
    timeout_s: float
    ca_file: str | None
    verify_tls: bool


def _http_settings(loaded: LoadedProfile, cfg: McuConfig) -> _HttpSettings:
    """What every HTTP MCU driver takes: address, TLS, credentials (password resolved)."""
    base = loaded.path.parent
    ca_file = None
    if cfg.ca_file is not None:
        ca_file = str(cfg.ca_file if cfg.ca_file.is_absolute() else base / cfg.ca_file)
    return {
        "host": cfg.host,
        "port": cfg.port,
        "tls": cfg.tls,
        "username": cfg.username,
        "password": cfg.password.resolve(base_dir=base),
        "timeout_s": cfg.timeout_s,
        "ca_file": ca_file,
        "verify_tls": cfg.verify_tls,
    }


def conference_spec(loaded: LoadedProfile) -> ConferenceSpec:
    """The session conference as the profile describes it (PIN resolved)."""
    _, cfg = central(loaded)
    conf = cfg.conference
    pin = conf.pin.resolve(base_dir=loaded.path.parent).reveal() if conf.pin else None
    return ConferenceSpec(
        name=conf.name,
        numeric_id=conf.numeric_id,
        pin=pin,
        duration_s=conf.duration_min * 60 or None,
    )


def point_spec(
    loaded: LoadedProfile, point_id: str, *, address: str | None = None
) -> ParticipantSpec:
    """The participant that dials `point_id`'s codec (named after the point)."""
    for point in loaded.profile.points:
        if point.id == point_id:
            codec = point.codec
            _, mcu = central(loaded)
            return ParticipantSpec(
                name=participant_name(point.id, name_limit(mcu.driver)),
                address=address or codec.address,
                protocol=CallProtocol(codec.driver),
                bitrate_kbps=codec.bitrate_kbps,
            )
    known = ", ".join(p.id for p in loaded.profile.points)
    raise ConfigError(f"no point {point_id!r} in the profile", hint=f"known points: {known}")


def recorder_spec(loaded: LoadedProfile) -> ParticipantSpec:
    """The recording link: the central point's recorder as a participant."""
    point, _ = central(loaded)
    rec = point.recorder
    if rec is None:
        raise ConfigError(
            f"the central point {point.id} has no `recorder`",
            hint="add a recorder section to the central point of the profile",
        )
    return ParticipantSpec(
        name=rec.id,
        address=rec.address,
        protocol=CallProtocol(rec.protocol),
        bitrate_kbps=rec.bitrate_kbps,
    )
