"""Hardware-in-the-loop suite: the same device checks against real devices or the rig.

    pytest hil --inventory /etc/mcu-control/profile.yaml        # real devices (read-only)
    pytest hil --inventory site.yaml --hil-allow-control         # also moves cameras, toggles mutes
    pytest hil                                                   # against the simulated rig

The inventory is a site profile: every device it names is checked. Without one, the demo
profile is served by the simulated rig (on free ports) in a background thread.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from profiles import LoadedProfile, load_profile


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil", "hardware-in-the-loop")
    group.addoption(
        "--inventory", default=None, help="site profile naming the real devices to check"
    )
    group.addoption(
        "--hil-allow-control",
        action="store_true",
        default=False,
        help="allow checks that move cameras and toggle mutes (always on against the rig)",
    )


class _RigThread:
    """The simulated rig on its own event loop, so tests' loops talk to it over real sockets."""

    def __init__(self, loaded: LoadedProfile) -> None:
        self.loaded = loaded
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hil-rig", daemon=True)
        self.rig: Any = None

    def start(self) -> None:
        from hil.rig import Rig

        self.thread.start()
        self.rig = Rig(self.loaded)
        asyncio.run_coroutine_threadsafe(self.rig.start(), self.loop).result(timeout=120)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.rig.stop(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


_loaded: LoadedProfile | None = None


def _inventory(config: pytest.Config) -> LoadedProfile:
    """The profile under test: --inventory, or the demo remapped to free ports (made once)."""
    global _loaded  # noqa: PLW0603 — one profile per pytest run, shared by collection and fixtures
    if _loaded is None:
        from mcu_control.commands.common import is_rig_profile
        from mcu_control.commands.sim import ensure_demo_secret

        path = config.getoption("--inventory")
        if path is None:
            from hil.genprofile import demo_data, remap_ports, write_profile

            ensure_demo_secret()
            path = write_profile(remap_ports(demo_data()), Path(tempfile.mkdtemp(prefix="hil-")))
        elif is_rig_profile(Path(path)):  # the rig of `sim up`: its secret, as every command
            ensure_demo_secret()
        _loaded = load_profile(Path(path))
    return _loaded


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise device checks over every device of the inventory."""
    loaded = _inventory(metafunc.config)
    p = loaded.profile
    table: dict[str, list[str]] = {
        "camera_id": [f"{pt.id}.{c.id}" for pt in p.points for c in pt.cameras],
        "mixer_id": [f"{pt.id}.{pt.mixer.id}" for pt in p.points if pt.mixer is not None],
        "codec_id": [f"{pt.id}.{pt.codec.id}" for pt in p.points],
    }
    for name, ids in table.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, ids)


@pytest.fixture(scope="session")
def inventory(request: pytest.FixtureRequest) -> Iterator[LoadedProfile]:
    loaded = _inventory(request.config)
    if request.config.getoption("--inventory") is not None:
        yield loaded
        return
    rig = _RigThread(loaded)
    rig.start()
    try:
        yield loaded
    finally:
        rig.stop()


@pytest.fixture(scope="session")
def allow_control(request: pytest.FixtureRequest) -> bool:
    return bool(
        request.config.getoption("--inventory") is None
        or request.config.getoption("--hil-allow-control")
    )
