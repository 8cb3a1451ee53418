"""Start the MCU simulator a profile's central point describes (family, port, user, password).

    sim = mcu_sim_for_profile(load_profile("profiles/sites/demo.yaml"),
                              scenario={"addresses": {"sip:tien-du@127.0.0.1:15103": {"outcome": "busy"}}})
    await sim.start()

or from a shell (serves until Ctrl-C):

    MCU_CONTROL_DEMO_SECRET=… python -m hil.sim.mcu_rig profiles/sites/demo.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import Any

from hil.sim.codian import CodianSim
from hil.sim.rmx import RmxSim
from profiles.loader import LoadedProfile, load_profile
from profiles.mcu import McuModel


def mcu_sim_for_profile(
    loaded: LoadedProfile,
    *,
    scenario: dict[str, Any] | None = None,
    port: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> CodianSim | RmxSim:
    """A (not yet started) simulator matching the central point's `mcu` section."""
    point = next(p for p in loaded.profile.points if p.role == "central")
    cfg = point.mcu
    assert cfg is not None  # the schema requires it on the central point
    model = loaded.models.get(cfg.model)
    max_ports = model.max_video_ports if isinstance(model, McuModel) else 40
    password = cfg.password.resolve(base_dir=loaded.path.parent).reveal()
    common: dict[str, Any] = {
        "username": cfg.username,
        "password": password,
        "host": "127.0.0.1",
        "port": cfg.port if port is None else port,
        "max_video_ports": max_ports,
        "ssl_context": ssl_context,
    }
    family = CodianSim if cfg.driver == "codian-xmlrpc" else RmxSim
    sim: CodianSim | RmxSim = family(**common)
    if scenario:
        sim.apply(scenario)
    return sim


async def _serve(profile: Path) -> None:
    sim = mcu_sim_for_profile(load_profile(profile))
    await sim.start()
    logging.getLogger("mcu_control.sim").warning(
        "%s serving on 127.0.0.1:%d (Ctrl-C to stop)", type(sim).__name__, sim.port
    )
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main() -> None:
    """Serve the profile's MCU simulator until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("profile", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.profile))


if __name__ == "__main__":
    main()
