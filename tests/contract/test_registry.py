"""The driver registry is the one source of truth: every reader agrees with it.

- every registered driver has contract rows (a new driver without a contract row fails here);
- every registered class implements its interface with the interface's method signatures;
- every builder resolves, and profile validation accepts exactly the registered keys;
- a fake family (driver class, model file, simulator factory, registry entry — what
  CONTRIBUTING.md's "Adding a device family" counts) is accepted by the profile, built by the
  generic builder with no builder function, and started by the simulated rig with no branch
  in hil/rig.py.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

from devices.errors import ConfigError
from devices.health import Health
from devices.interfaces import AudioMixer, DeviceInfo
from drivers import registry
from drivers.registry import SPECS, DriverSpec, keys, resolve
from hil.contract import CHECKS
from hil.rig import Entry, Rig
from mcu_control.builders import build
from profiles.loader import load_profile

#: the contract modules and the interface whose drivers they cover
SUITES = {
    "PtzCamera": "ptz_rigs",
    "AudioMixer": "test_mixer_contract",
    "Mcu": "test_mcu_contract",
    "Codec": "test_codec_contract",
}


@pytest.mark.parametrize("spec", SPECS, ids=[s.key for s in SPECS])
def test_every_registered_driver_has_a_contract_row(spec: DriverSpec) -> None:
    rows: dict[str, list[str]] = importlib.import_module(SUITES[spec.kind]).ROWS
    assert rows.get(spec.key), (
        f"driver {spec.key!r} ({spec.kind}) has no row in the {SUITES[spec.kind]} contract suite"
    )


def test_contract_rows_name_only_registered_drivers() -> None:
    for kind, module in SUITES.items():
        rows: dict[str, list[str]] = importlib.import_module(module).ROWS
        assert set(rows) <= set(keys(kind)), f"{module} covers unregistered drivers"


@pytest.mark.parametrize("spec", SPECS, ids=[s.key for s in SPECS])
def test_every_registered_driver_has_hil_checks(spec: DriverSpec) -> None:
    """`pytest hil --inventory` checks every registered driver's interface (hil/contract.py)."""
    assert spec.kind in CHECKS, f"no hil contract checks for {spec.kind} ({spec.key})"
    read_only, _control = CHECKS[spec.kind]
    assert callable(read_only)


@pytest.mark.parametrize("spec", SPECS, ids=[s.key for s in SPECS])
def test_registered_class_conforms_to_its_interface(spec: DriverSpec) -> None:
    cls = resolve(spec.target)
    assert isinstance(cls, type) and issubclass(cls, spec.interface)
    assert not inspect.isabstract(cls), f"{spec.target} leaves abstract methods"
    for name, member in inspect.getmembers(spec.interface, inspect.isfunction):
        if name.startswith("_"):
            continue
        wanted = inspect.signature(member)
        got = inspect.signature(getattr(cls, name))
        assert list(got.parameters) == list(wanted.parameters), f"{spec.target}.{name}{got}"
        for param in wanted.parameters.values():
            if param.default is not inspect.Parameter.empty:
                assert got.parameters[param.name].default == param.default, (
                    f"{spec.target}.{name}: default of {param.name} differs from the interface"
                )
    assert spec.build is None or callable(resolve(spec.build))


def test_profile_driver_keys_are_the_registry_keys(
    demo_profile_data: dict[str, Any], write_profile: Any
) -> None:
    data = demo_profile_data
    point = next(p for p in data["points"] if p.get("mixer"))
    point["mixer"]["driver"] = "qsys-qrc"
    from devices.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        load_profile(write_profile(data))
    text = str(exc.value) + " ".join(str(p) for p in exc.value.problems)
    assert "qsys-qrc" in text
    for key in keys("AudioMixer"):
        assert key in text  # the message lists what is registered


class FakeQrcMixer(AudioMixer):
    """A stand-in Q-SYS QRC driver: what a new family's driver package provides."""

    def __init__(self, name: str, *, host: str, port: int, timeout_s: float = 2.0) -> None:
        super().__init__(name)
        self.host, self.port, self.timeout_s = host, port, timeout_s

    async def identify(self) -> DeviceInfo:
        return DeviceInfo("QSC", "fake", "0")

    async def get_mute(self, channel: str) -> bool:
        return False

    async def set_mute(self, channel: str, muted: bool) -> None:
        return None

    async def health(self) -> Health:
        return Health.ok("fake")


class FakeQrcSim:
    """A stand-in QRC simulator: what the family's `hil/sim/<family>.py` provides."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def fake_qrc_sim(rig: Rig, point: Any, cfg: Any) -> Entry:
    """The simulator factory the family's spec names ("module:function")."""
    dev = f"{point.id}.{cfg.id}"
    return Entry(
        dev,
        "FakeQrcSim",
        f"tcp {cfg.host}:{cfg.effective_port}",
        "",
        FakeQrcSim(cfg.host, cfg.effective_port),
    )


def test_a_new_family_is_one_registry_entry(
    demo_profile_data: dict[str, Any],
    write_profile: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Q-SYS over QRC: a registry entry (plus driver, model file, simulator) and nothing else.

    Places touched here: the driver class, the model file, the simulator factory, the
    registry entry (CONTRIBUTING.md adds the contract row and the docs page: 6 in all; 7
    before the generic builder and the rig's simulator registry, ~16 before the registry).
    """
    fake = DriverSpec(
        key="qsys-qrc",
        interface=AudioMixer,
        protocol="qrc",
        link="tcp",
        default_port=1710,
        target=f"{__name__}:FakeQrcMixer",
        settings="profiles.mixer:MixerConfig",
        model_section=None,
        build=None,  # the generic builder: no function in mcu_control/builders/
        simulator=f"{__name__}:fake_qrc_sim",  # no branch in hil/rig.py
    )
    monkeypatch.setattr(registry, "_BY_KIND", {**registry._BY_KIND})
    monkeypatch.setitem(
        registry._BY_KIND, "AudioMixer", {**registry._BY_KIND["AudioMixer"], fake.key: fake}
    )
    monkeypatch.setenv("MCU_CONTROL_DEMO_SECRET", "rig-secret-2026")  # the rig's ONVIF cameras
    data = demo_profile_data
    point = next(p for p in data["points"] if p.get("mixer"))
    mixer = point["mixer"]
    mixer["driver"] = "qsys-qrc"
    mixer["model"] = "fake-qsys-qrc"
    mixer["host"] = "127.0.0.1"
    mixer["timeout_s"] = 1.5
    mixer.pop("serial", None)
    mixer.pop("port", None)
    mixer.pop("snmp", None)
    for ch in mixer["channels"].values():
        ch.pop("block", None)
    path = write_profile(data)
    models = path.parent.parent / "models"
    models.mkdir(exist_ok=True)
    for shipped in (Path(__file__).resolve().parents[2] / "profiles" / "models").glob("*.yaml"):
        (models / shipped.name).write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    model = {"kind": "mixer", "name": "fake-qsys-qrc", "manufacturer": "QSC", "protocol": "qrc"}
    (models / "fake-qsys-qrc.yaml").write_text(yaml.safe_dump(model), encoding="utf-8")
    loaded = load_profile(path)
    cfg = next(p for p in loaded.profile.points if p.id == point["id"]).mixer
    assert cfg is not None and cfg.effective_port == 1710  # the default port came from the spec
    pt = next(p for p in loaded.profile.points if p.id == point["id"])
    device = build("AudioMixer", "qsys-qrc", loaded, pt, cfg)
    assert isinstance(device, FakeQrcMixer)
    assert (device.name, device.host, device.port) == (f"{pt.id}.{cfg.id}", "127.0.0.1", 1710)
    assert device.timeout_s == 1.5  # the profile's setting reached the driver

    entries = Rig(loaded)._build()  # the rig's dispatch, without starting anything
    fake_entry = next(e for e in entries if e.device == f"{pt.id}.{cfg.id}")
    assert isinstance(fake_entry.sim, FakeQrcSim) and fake_entry.sim.port == 1710


def test_the_generic_builder_names_what_the_profile_lacks(
    demo_profile_data: dict[str, Any], write_profile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driver constructor needing an argument the profile cannot give: a ConfigError."""
    fake = DriverSpec(
        key="qsys-qrc",
        interface=AudioMixer,
        protocol="ttp",
        link="serial",  # no host/port offered: FakeQrcMixer's host and port are missing
        default_port=None,
        target=f"{__name__}:FakeQrcMixer",
        settings="profiles.mixer:MixerConfig",
        model_section=None,
        build=None,
        simulator="tesira-serial",
    )
    monkeypatch.setattr(registry, "_BY_KIND", {**registry._BY_KIND})
    monkeypatch.setitem(
        registry._BY_KIND, "AudioMixer", {**registry._BY_KIND["AudioMixer"], fake.key: fake}
    )
    loaded = load_profile(write_profile(demo_profile_data))
    pt = next(p for p in loaded.profile.points if p.mixer is not None and p.mixer.serial)
    assert pt.mixer is not None
    with pytest.raises(ConfigError) as exc:
        build("AudioMixer", "qsys-qrc", loaded, pt, pt.mixer)
    assert exc.value.device == f"{pt.id}.{pt.mixer.id}"
    assert "host" in str(exc.value) and "port" in str(exc.value)
