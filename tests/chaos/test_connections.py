"""One owner of the device connections (mcu_control/connections.py), over real sockets.

Against the Tesira simulator of the demo rig: a DSP restarted mid-session is reconnected by
the owner and the subscriptions are taken again by the on-connected hook; the published
link goes connecting → ready → backoff → ready; a failure that is the device's answer does
not reconnect; a borrower (a bring-up step) gets the supervisor's live connection instead
of opening a second one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from chaos.conftest import TIMEOUT_S
from devices.interfaces import MixerEvent
from hil.rig import Rig
from hil.scenario import load_scenario
from hil.sim.tesira import TesiraSim
from mcu_control.audit import AuditLog
from mcu_control.runtime import SiteHolder, SupervisorComponent
from mcu_control.site import Site
from mcu_control.state import StateStore
from mcu_control.status import device_readers
from mcu_control.supervisor import Backoff, DeviceSupervisor
from profiles.loader import LoadedProfile

pytestmark = pytest.mark.chaos

MIXER = "tien-du.mixer"
BOUND_S = 6.0


@asynccontextmanager
async def _tesira(loaded: LoadedProfile) -> AsyncIterator[tuple[TesiraSim, Site]]:
    rig = Rig(loaded, load_scenario("normal"))
    entry = next(e for e in rig._build() if MIXER in e.device.split(","))
    sim = entry.sim
    assert isinstance(sim, TesiraSim)
    await sim.start()
    site = Site(loaded)
    try:
        yield sim, site
    finally:
        await site.close()
        await sim.stop()


def _supervisor(site: Site) -> DeviceSupervisor:
    return DeviceSupervisor(
        site,
        MIXER,
        device_readers(site)[MIXER],
        interval_s=0.1,
        timeout_s=4 * TIMEOUT_S,
        backoff=Backoff(initial_s=0.1, max_s=0.2, jitter=0.0),
    )


async def _until(cond: Callable[[], bool], timeout_s: float = BOUND_S) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.02)


def _links(site: Site, changes: asyncio.Queue[Any]) -> list[str]:
    out: list[str] = []
    while not changes.empty():
        c = changes.get_nowait()
        link = c.payload.get("link") if c.kind == "device" and c.key == MIXER else None
        if link is not None and (not out or out[-1] != link):
            out.append(link)
    return out


async def test_a_restarted_dsp_is_reconnected_by_the_owner_and_its_subscriptions_renewed(
    chaos_site_profile: LoadedProfile,
) -> None:
    async with _tesira(chaos_site_profile) as (sim, site):
        point = site.profile.point("tien-du")
        changes = site.store.subscribe()
        heard: list[MixerEvent] = []
        sup = _supervisor(site)
        sup.start()
        try:
            await _until(lambda: site.store.devices[MIXER].link == "ready")
            await site.watch_mixer(point, heard.append)
            assert sim.subscription_count > 0
            first = await site.mixer(point)

            await sim.stop()  # the DSP restarts: connections and subscriptions are gone
            await _until(lambda: site.store.devices[MIXER].link == "backoff")
            await sim.start()
            await _until(lambda: site.store.devices[MIXER].link == "ready")

            assert sim.subscription_count > 0, "the on-connected hook took them again"
            again = await site.mixer(point)
            assert again is not first  # the owner connected a new instance...
            link = site.connections.link(MIXER)
            assert link.connects == 2  # ...once
            heard.clear()
            sim.set_mute("MicMute", 1, True)  # the front panel mutes: we are told
            await _until(lambda: any(e.kind == "mute" for e in heard))
        finally:
            await sup.stop()
        links = _links(site, changes)
        site.store.unsubscribe(changes)
        assert links[:2] == ["connecting", "ready"]
        assert links[-1] == "stopped"
        i = links.index("backoff")
        assert links[i + 1 :][-2] == "ready", links  # backoff → (connecting →) ready
        assert "ready" in links[i:]


async def test_a_borrower_gets_the_supervisors_connection_and_an_answered_error_keeps_it(
    chaos_site_profile: LoadedProfile,
) -> None:
    """A refusal of the device (unknown block) must not cost a reconnection per read."""
    async with _tesira(chaos_site_profile) as (sim, site):
        point = site.profile.point("tien-du")
        sup = _supervisor(site)
        sup.start()
        try:
            await _until(lambda: site.store.devices[MIXER].link == "ready")
            assert sim.connections == 1
            # a bring-up step borrows the mixer: the supervisor's live connection
            mixer = await site.mixer(point)
            assert site.connections.link(MIXER).device is mixer
            assert sim.connections == 1

            # the DSP's configuration loses the session microphones' block: every health
            # read is answered with "address not found" (the device answers: link is fine)
            muted = sim.blocks.pop("MicMute")
            await _until(lambda: sup.failures >= 3)
            assert site.store.devices[MIXER].error_kind == "not-found"
            assert site.store.devices[MIXER].link == "ready"
            assert sim.connections == 1, "an answer of the device must not reconnect"
            assert await site.mixer(point) is mixer

            sim.blocks["MicMute"] = muted
            await _until(lambda: sup.reconnects >= 1)
            assert sim.connections == 1
        finally:
            await sup.stop()


async def test_a_borrower_that_sees_the_link_fail_does_not_open_a_second_connection(
    chaos_site_profile: LoadedProfile,
) -> None:
    """Borrowers reconnect through the owner, one attempt at a time under the device's lock."""
    async with _tesira(chaos_site_profile) as (sim, site):
        point = site.profile.point("tien-du")
        await site.mixer(point)
        assert sim.connections == 1
        sim.drop_all()
        # nine bring-up steps want the mixer at once after the link dropped
        await site.connections.failed(MIXER)
        mixers = await asyncio.gather(*(site.mixer(point) for _ in range(9)))
        assert all(m is mixers[0] for m in mixers)
        assert sim.connections == 2
        assert site.connections.link(MIXER).builds == 2


async def test_in_the_daemon_an_mqtt_or_scheduled_command_uses_the_supervisors_connection(
    chaos_site_profile: LoadedProfile, tmp_path: Path
) -> None:
    """runtime.SiteHolder: the orchestrator borrows the devices the supervisors keep."""
    rig = Rig(chaos_site_profile, load_scenario("normal"))
    entry = next(e for e in rig._build() if MIXER in e.device.split(","))
    sim = entry.sim
    assert isinstance(sim, TesiraSim)
    await sim.start()
    holder = SiteHolder(
        chaos_site_profile,
        StateStore(),
        AuditLog(tmp_path / "audit.jsonl"),
        state_dir=tmp_path,
    )
    comp = SupervisorComponent(holder, interval_s=0.1, timeout_s=4 * TIMEOUT_S)
    await comp.start()
    try:
        await _until(lambda: holder.store.devices[MIXER].link == "ready")
        point = holder.site.profile.point("tien-du")
        assert point.mixer is not None
        channel = point.mixer.session_channels[0]
        reply = await holder.orchestrator().set_mute("tien-du", channel, True)
        assert reply["muted"] is True
        assert sim.connections == 1  # the supervisor's connection, not a second one
        assert holder.site.connections.link(MIXER).connects == 1
    finally:
        await comp.stop()
        await sim.stop()
    assert holder.store.devices[MIXER].link == "stopped"
