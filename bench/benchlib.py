"""Shared helpers of the benchmarks: generated profiles, scenarios, the rig in or out of process.

Not a benchmark itself. Scripts under bench/ import it as `benchlib` (bench/ is sys.path[0]
when a script runs as `python bench/<name>.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests"):  # the repository, and tests/ for mqtt_support
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from hil.genprofile import demo_data, remap_ports, scaled, write_profile  # noqa: E402

os.environ.setdefault("MCU_CONTROL_DEMO_SECRET", "rig-secret-2026")

#: what the rig subprocess prints on stdout once every simulator listens
READY = "RIG READY"


def raise_nofile() -> tuple[int, int]:
    """Raise the soft open-files limit to the hard limit; return (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def make_profile(
    directory: Path,
    points: int,
    *,
    tweak: Callable[[dict[str, Any]], None] | None = None,
    name: str = "bench.yaml",
) -> Path:
    """Write the demo scaled to `points` points on free ports; `tweak` edits the data first."""
    data = scaled(demo_data(), points)
    if points > 9:
        _clones_without_snmp(data)
    data = remap_ports(data)
    if points > 39:
        # a 5320 has 40 video ports and bring-up dials only what fits (profiles/placement.py);
        # the benches measure the orchestrator at scale on a simulated MCU whose capacity the
        # scenario sets to 100000 (make_scenario), so the profile's model says the same
        models = directory / "models"
        models.mkdir(parents=True, exist_ok=True)
        (models / "bench-mcu-unbounded.yaml").write_text(
            "kind: mcu\nname: bench-mcu-unbounded\nmanufacturer: bench\nfamily: codian\n"
            "max_conferences: 1000\nmax_video_ports: 100000\n",
            encoding="utf-8",
        )
        data["points"][0]["mcu"]["model"] = "bench-mcu-unbounded"
    if tweak is not None:
        tweak(data)
    return write_profile(data, directory, name)


def profile_from(
    source: Path,
    directory: Path,
    *,
    tweak: Callable[[dict[str, Any]], None] | None = None,
    name: str = "bench.yaml",
) -> Path:
    """A site's own profile (e.g. the example province) localized onto the rig's free ports.

    `hil.genprofile.localize` moves every device to 127.0.0.1 on a port of its own and every
    secret to the demo variable; `tweak` edits the data after that.
    """
    from hil.genprofile import localize

    data = localize(yaml.safe_load(source.read_text(encoding="utf-8")))
    if tweak is not None:
        tweak(data)
    return write_profile(data, directory, name)


def make_scenario(
    directory: Path,
    *,
    base: str = "realistic",
    defaults: dict[str, float] | None = None,
    devices: dict[str, dict[str, Any]] | None = None,
    name: str = "scenario.yaml",
) -> Path:
    """A scenario file: a shipped one with some defaults overridden and devices added."""
    from hil.scenario import SHIPPED

    data: dict[str, Any] = yaml.safe_load((SHIPPED / f"{base}.yaml").read_text(encoding="utf-8"))
    data["name"] = f"bench-{base}"
    data.setdefault("defaults", {}).update(defaults or {})
    data["defaults"].setdefault("mcu_capacity", 100000)
    data.setdefault("devices", {}).update(devices or {})
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _clones_without_snmp(data: dict[str, Any]) -> None:
    """Cloned points get a Tesira mixer where the original has an SNMP one.

    The rig serves every SNMP agent with its own snmpsim process (~30 MB, ~0.4 s of CPU to
    start); 250 of them for 1000 points would measure the simulator, not the orchestrator.
    The 9 original points keep their SNMP mixers.
    """
    import copy

    template = next(
        p["mixer"]
        for p in data["points"]
        if (p.get("mixer") or {}).get("driver") == "tesira-telnet"
    )
    for i, point in enumerate(data["points"][9:], start=9):
        if (point.get("mixer") or {}).get("driver") == "snmp":
            mixer = copy.deepcopy(template)
            mixer["port"] = 10000 + i  # a placeholder; remap_ports gives it a free port
            point["mixer"] = mixer


@asynccontextmanager
async def rig(
    make: Callable[[], Path], scenario: Path, *, subprocess_rig: bool
) -> AsyncIterator[tuple[Path, float]]:
    """Run the rig for the profile `make()` writes (in this process or a child).

    Yields (profile, start-up seconds). A port taken between allocation and bind (another
    process on this shared machine) makes `make()` write the profile again on new ports.
    """
    for attempt in range(ATTEMPTS):
        profile = make()
        t0 = time.perf_counter()
        try:
            handle = await _start(profile, scenario, subprocess_rig)
        except RuntimeError as exc:
            if attempt == ATTEMPTS - 1:
                raise
            print(f"rig start failed ({exc}); again on new ports", file=sys.stderr)
            continue
        break
    try:
        yield profile, time.perf_counter() - t0
    finally:
        await _stop(handle)


def rig_process(make: Callable[[], Path], scenario: Path) -> tuple[Path, subprocess.Popen[str]]:
    """The rig in a child process (blocking API); close its stdin to stop it."""
    for _ in range(ATTEMPTS):
        profile = make()
        proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("rigrunner.py")),
                str(profile),
                str(scenario),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        if proc.stdout.readline().strip() == READY:
            return profile, proc
        proc.wait(timeout=60)
        print("rig start failed; again on new ports", file=sys.stderr)
    raise RuntimeError("the rig did not start")


ATTEMPTS = 3


async def _start(profile: Path, scenario: Path, subprocess_rig: bool) -> Any:
    if not subprocess_rig:
        from hil.rig import Rig
        from hil.scenario import load_scenario
        from profiles import load_profile

        r = Rig(load_profile(profile), load_scenario(scenario))
        await r.start()
        return r
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("rigrunner.py")),
        str(profile),
        str(scenario),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(600):
        while True:
            line = await proc.stdout.readline()
            if not line:
                await proc.wait()
                raise RuntimeError("the rig subprocess exited before it was ready")
            if line.decode().strip() == READY:
                return proc


async def _stop(handle: Any) -> None:
    if not isinstance(handle, asyncio.subprocess.Process):
        await handle.stop()
        return
    assert handle.stdin is not None
    handle.stdin.close()
    try:
        async with asyncio.timeout(60):
            await handle.wait()
    except TimeoutError:
        handle.kill()
        await handle.wait()


@contextlib.contextmanager
def quiet_logs() -> Any:
    """Keep the products' warnings (a dead device is expected) off the figures."""
    import logging

    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


def emit(result: dict[str, Any]) -> None:
    """Print the figures one per line, then the whole result as the last line (JSON)."""
    for key, value in result.items():
        if not isinstance(value, (list, dict)):
            print(f"{key:>26}: {value}")
    print(json.dumps(result, ensure_ascii=False), flush=True)
