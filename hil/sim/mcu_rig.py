"""Start the MCU simulators a profile describes (family, port, user, password), wired together.

    sim = mcu_sim_for_profile(load_profile("profiles/sites/demo.yaml"),
                              scenario={"addresses": {"sip:tien-du@127.0.0.1:15103": {"outcome": "busy"}}})
    await sim.start()

`mcu_sim(loaded, cfg)` builds the simulator of any MCU of the profile (the central point's
`mcu` or one of `mcus`); `McuDirectory` is the resolver the rig gives the MCUs' `SimNetwork`,
so that one simulated MCU dialling another's cascade dial string reaches its conference.

or from a shell (serves the host MCU until Ctrl-C):

    MCU_CONTROL_DEMO_SECRET=… python -m hil.sim.mcu_rig profiles/sites/demo.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import ssl
from pathlib import Path
from typing import Any

from hil.sim.codian import CodianSim
from hil.sim.mcu_state import DialAnswer, McuState, SimParticipant
from hil.sim.rmx import RmxSim
from profiles.loader import LoadedProfile, load_profile
from profiles.mcu import McuConfig, McuModel, cascade_dial_string

#: sip:8102@127.0.0.1:20001;transport=udp -> ("8102", "127.0.0.1:20001")
_DIAL = re.compile(r"^(?:sips?:|h323:)?(?:(?P<user>[^@;]+)@)?(?P<host>[^;>?]+)", re.IGNORECASE)


def mcu_sim_for_profile(
    loaded: LoadedProfile,
    *,
    scenario: dict[str, Any] | None = None,
    port: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> CodianSim | RmxSim:
    """A (not yet started) simulator matching the central point's `mcu` section."""
    cfg = loaded.profile.central.mcu
    assert cfg is not None  # the schema requires it on the central point
    return mcu_sim(loaded, cfg, scenario=scenario, port=port, ssl_context=ssl_context)


def mcu_sim(
    loaded: LoadedProfile,
    cfg: McuConfig,
    *,
    scenario: dict[str, Any] | None = None,
    port: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> CodianSim | RmxSim:
    """A (not yet started) simulator of the MCU `cfg`: its driver's family, model, login."""
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


def dial_target(address: str) -> tuple[str, str] | None:
    """(user, host[:port]) of a dial string, lower-cased host; None when it has no host."""
    m = _DIAL.match(address.strip())
    if m is None:
        return None
    return (m.group("user") or "", m.group("host").lower())


class McuDirectory:
    """Which simulated MCU answers which dial string: the resolver hook of the rig's MCUs.

    An MCU is reached at the host[:port] of its cascade dial string
    (`profiles.mcu.cascade_dial_string`); the user part is a conference's numeric id there.
    A dialled call to a known MCU connects only if that MCU runs and has a free port and a
    conference with that number; then the callee shows a dial-in from the caller's own dial
    string, named after the calling conference [U]. Otherwise it ends disconnected:
    `destinationUnreachable` (MCU down), `rejected` (no such conference number) [U], `busy`
    (no free port) [U].
    """

    def __init__(self) -> None:
        #: host[:port] -> the MCUs reached there: (configured numeric id, state or None: down)
        self._mcus: dict[str, list[tuple[str, McuState | None]]] = {}
        self._homes: dict[int, str] = {}  # id(state) -> its host[:port]

    def add(self, cfg: McuConfig, state: McuState | None) -> None:
        """Register an MCU (state None: deliberately down) under its cascade dial string."""
        dial = cascade_dial_string(cfg)
        target = dial_target(dial) if dial else None
        home = target[1] if target else cfg.host.lower()
        number = target[0] if target else (cfg.conference.numeric_id or "")
        self._mcus.setdefault(home, []).append((number, state))
        if state is not None:
            self._homes[id(state)] = home

    def __call__(self, caller: McuState, p: SimParticipant) -> DialAnswer | None:
        target = dial_target(p.address)
        found = self._mcus.get(target[1]) if target else None
        if target is None or not found:
            return None  # not an MCU of the rig: the address's behaviour decides
        number = target[0]
        # several MCUs may share a host without a port (sip:<numeric id>@127.0.0.1): the
        # number tells them apart
        hits = []
        for _, state in found:
            conf = state.conference_by_number(number) if state is not None else None
            if state is not None and conf is not None:
                hits.append((state, conf))
        if not hits:
            down = [n for n, s in found if s is None]
            if number in down or (down and len(down) == len(found)):
                return DialAnswer(reason="destinationUnreachable")
            return DialAnswer(reason="rejected")
        callee, conf = hits[0]
        if callee.ports_in_use() >= callee.max_video_ports:
            return DialAnswer(reason="busy")
        home = self._homes.get(id(caller), "127.0.0.1")
        calling = caller.conferences.get(p.conference)
        from_number = calling.numeric_id if calling is not None else ""
        scheme = "sip:" if p.protocol == "sip" else ""
        return DialAnswer(
            callee=callee,
            conference=conf.name,
            name=p.conference[:31] or "cascade",
            address=f"{scheme}{from_number}@{home}" if from_number else f"{scheme}{home}",
        )


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
