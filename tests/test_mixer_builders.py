"""Builders: profile sections + models → drivers, secrets resolved, names "<point>.<device>"."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.errors import ConfigError
from drivers.sip.driver import SipCodec
from drivers.snmp.driver import SnmpMixer
from drivers.tesira.driver import TesiraSerialMixer, TesiraTelnetMixer
from mcu_control.commands.codec import recorder_codec_config
from mcu_control.factory import build_codec, build_mixer
from profiles.loader import load_profile

DEMO = Path(__file__).resolve().parent.parent / "profiles" / "sites" / "demo.yaml"


async def test_demo_profile_builds_every_mixer_and_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCU_CONTROL_DEMO_SECRET", "builder-secret")
    loaded = load_profile(DEMO)
    kinds: dict[str, type] = {}
    for point in loaded.profile.points:
        assert point.mixer is not None
        mixer = build_mixer(loaded, point, point.mixer)
        assert mixer.name == f"{point.id}.mixer"
        kinds[point.id] = type(mixer)
        codec = build_codec(loaded, point, point.codec)
        assert isinstance(codec, SipCodec) and codec.name == f"{point.id}.codec"
        assert codec.uri == point.codec.address
        await mixer.close()
    assert kinds["trung-tam"] is TesiraTelnetMixer
    assert kinds["tien-du"] is TesiraSerialMixer
    assert kinds["tx-tu-son"] is SnmpMixer

    tien_du = loaded.profile.point("tien-du")
    assert tien_du.mixer is not None
    serial = build_mixer(loaded, tien_du, tien_du.mixer)
    assert isinstance(serial, TesiraSerialMixer)
    assert serial.url == "socket://127.0.0.1:17203" and serial.baudrate == 115200
    assert serial.channels["mic-cong-dan"] == ("MicMute", 2)
    assert serial.meter_points == {"mic-chu-tri": ("Meters", 1), "mic-cong-dan": ("Meters", 2)}
    assert serial.commands["get_mute"] == "{block} get mute {index}"

    snmp_point = loaded.profile.point("tx-tu-son")
    assert snmp_point.mixer is not None
    snmp = build_mixer(loaded, snmp_point, snmp_point.mixer)
    assert isinstance(snmp, SnmpMixer)
    assert snmp.client.port == 16102 and snmp.channels["loa-phong"] == 3
    assert "builder-secret" not in repr(vars(snmp.client))

    rec = recorder_codec_config(loaded.profile.central)
    assert rec is not None and rec.effective_port == 15070


def test_missing_secret_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCU_CONTROL_DEMO_SECRET", raising=False)
    loaded = load_profile(DEMO)
    point = loaded.profile.point("tx-tu-son")
    assert point.mixer is not None
    with pytest.raises(ConfigError) as exc:
        build_mixer(loaded, point, point.mixer)
    assert "MCU_CONTROL_DEMO_SECRET" in str(exc.value)
