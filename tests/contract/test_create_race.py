"""A lost conference-create race is recognised by meaning (AlreadyExistsError) on both families."""

from __future__ import annotations

from typing import Any

import pytest

from devices.errors import AlreadyExistsError
from devices.interfaces import Conference, ConferenceSpec
from devices.secrets import Secret
from drivers.codian.driver import CodianMcu
from drivers.rmx.driver import RmxMcu
from hil.sim.codian import CodianSim
from hil.sim.rmx import RmxSim
from mcu_control.drill import ensure_conference

PASSWORD = "Pw-race-5b1"


class _LateCodian(CodianMcu):
    """Lists before another creator's conference appears (the other side of the race)."""

    async def conferences(self) -> list[Conference]:
        return []


class _LateRmx(RmxMcu):
    async def conferences(self) -> list[Conference]:
        return []


@pytest.mark.parametrize(
    ("sim_cls", "late_cls", "user", "code"),
    [(CodianSim, _LateCodian, "admin", 2), (RmxSim, _LateRmx, "POLYCOM", 2501)],
    ids=["codian", "rmx"],
)
async def test_lost_create_race_is_not_an_error(
    sim_cls: Any, late_cls: Any, user: str, code: int
) -> None:
    async with sim_cls(username=user, password=PASSWORD) as sim:
        kwargs: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": sim.port,
            "tls": False,
            "username": user,
            "password": Secret(PASSWORD),
            "timeout_s": 2.0,
        }
        late = late_cls("trung-tam.mcu", **kwargs)
        try:
            sim.state.create_conference("TCD")  # the other creator won
            with pytest.raises(AlreadyExistsError) as caught:
                await late.create_conference(ConferenceSpec("TCD"))
            assert caught.value.code == code  # the vendor's number, kept for display
            assert await ensure_conference(late, ConferenceSpec("TCD")) is False
        finally:
            await late.close()
