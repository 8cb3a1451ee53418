"""Build the site's MCU driver, its conference and the participants it dials, from a profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.errors import ConfigError
from devices.interfaces import CallProtocol, ConferenceSpec, Mcu, ParticipantSpec
from drivers.registry import driver_class
from profiles.naming import name_limit, participant_name

if TYPE_CHECKING:
    from profiles.loader import LoadedProfile
    from profiles.mcu import McuConfig
    from profiles.schema import PointConfig


def central(loaded: LoadedProfile) -> tuple[PointConfig, McuConfig]:
    """The central point and its MCU section."""
    for point in loaded.profile.points:
        if point.role == "central" and point.mcu is not None:
            return point, point.mcu
    raise ConfigError("the profile has no central point with an `mcu` section")


def build(loaded: LoadedProfile) -> Mcu:
    """The MCU driver of the central point, password resolved, plain values only."""
    point, cfg = central(loaded)
    base = loaded.path.parent
    ca_file = None
    if cfg.ca_file is not None:
        ca_file = str(cfg.ca_file if cfg.ca_file.is_absolute() else base / cfg.ca_file)
    cls = driver_class(Mcu, cfg.driver)  # type: ignore[type-abstract]
    mcu: Mcu = cls(  # type: ignore[call-arg]
        f"{point.id}.{cfg.id}",
        host=cfg.host,
        port=cfg.port,
        tls=cfg.tls,
        username=cfg.username,
        password=cfg.password.resolve(base_dir=base),
        timeout_s=cfg.timeout_s,
        ca_file=ca_file,
        verify_tls=cfg.verify_tls,
    )
    return mcu


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
