"""`Mcu` driver for the Cisco/Codian MCU XML-RPC API (docs/protocols/codian.md)."""

from __future__ import annotations

import logging
from typing import Any

from devices.errors import DeviceError, DeviceTimeoutError, NotFoundError, TransportError
from devices.health import Health
from devices.interfaces import (
    CallProtocol,
    Capability,
    Conference,
    ConferenceSpec,
    ConnectionState,
    Mcu,
    McuInfo,
    Participant,
    ParticipantSpec,
)
from devices.secrets import Secret
from drivers.codian import codec
from drivers.http import HttpTransport

#: every call is an HTTP(S) POST of XML-RPC to this path (docs/protocols/codian.md §1)
RPC_PATH = "/RPC2"
#: guards against a device that hands out enumerateIDs forever
_MAX_PAGES = 1000


#: XML-RPC methods that only read: a timeout of one of them changed nothing
_READS = (".query", ".enumerate", ".status", ".diagnostics", ".statistics")


class CodianMcu(Mcu):
    """A Cisco TelePresence MCU (Codian family); stateless XML-RPC, credentials in every call."""

    capabilities = frozenset(
        {Capability.MCU_LAYOUT, Capability.MCU_RECORDING, Capability.MCU_REVISIONS}
    )

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int | None = None,
        tls: bool = True,
        username: str,
        password: Secret,
        timeout_s: float = 5.0,
        ca_file: str | None = None,
        verify_tls: bool = True,
        more_than_four: bool = True,
    ) -> None:
        super().__init__(name)
        self._username = username
        self._password = password
        self._more_than_four = more_than_four
        self._transport = HttpTransport(
            name,
            host=host,
            port=port,
            tls=tls,
            path=RPC_PATH,
            timeout_s=timeout_s,
            ca_file=ca_file,
            verify_tls=verify_tls,
        )
        self._log = logging.getLogger(f"mcu_control.device.{name}")
        self._conf_cache: tuple[int, list[Conference]] | None = None
        self._protocols: dict[tuple[str, str], CallProtocol] = {}

    async def connect(self) -> None:
        """Check reachability and credentials with device.query (the API is stateless)."""
        self.state = ConnectionState.CONNECTING
        try:
            await self.call("device.query")
        except BaseException:
            self.state = ConnectionState.FAILED
            raise
        self.state = ConnectionState.CONNECTED

    async def close(self) -> None:
        await self._transport.close()
        self.state = ConnectionState.CLOSED

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One XML-RPC call with credentials added; returns the result struct."""
        body = codec.encode_call(
            method, params or {}, user=self._username, password=self._password.reveal()
        )
        try:
            reply = await self._transport.post(body, what=method)
        except DeviceTimeoutError as exc:
            self.state = ConnectionState.FAILED  # the supervisor replaces a failed link
            if not method.endswith(_READS):  # the request left: the MCU may still do it
                exc.may_have_applied = True
                exc.hint = (
                    "the request may still be applied; check with `mcu-control mcu status`"
                    + (f"; {exc.hint}" if exc.hint else "")
                )
            raise
        except TransportError:
            self.state = ConnectionState.FAILED
            raise
        return codec.decode_response(reply, device=self.name, method=method)

    async def info(self) -> McuInfo:
        return codec.parse_device_query(await self.call("device.query"), device=self.name)

    async def health(self) -> Health:
        return codec.parse_health(await self.call("device.health.query"))

    async def conferences(self) -> list[Conference]:
        if self._conf_cache is not None:
            revision, cached = self._conf_cache
            delta, current = await self._enumerate("conference.enumerate", "conferences", revision)
            if not delta and current == revision:
                return list(cached)
        entries, current = await self._enumerate("conference.enumerate", "conferences", None)
        result = [codec.parse_conference(e) for e in entries]
        if current is not None:
            self._conf_cache = (current, result)
        return list(result)

    async def create_conference(self, spec: ConferenceSpec) -> Conference:
        await self.call("conference.create", codec.conference_create_params(spec))
        status = await self.call("conference.status", {"conferenceName": spec.name})
        return codec.parse_conference(status)

    async def destroy_conference(self, name: str) -> None:
        await self.call("conference.destroy", {"conferenceName": name})
        for key in [k for k in self._protocols if k[0] == name]:
            del self._protocols[key]

    async def participants(self, conference: str | None = None) -> list[Participant]:
        entries, _ = await self._enumerate(
            "participant.enumerate",
            "participants",
            None,
            operationScope=["currentState", "configuredState"],
        )
        out = []
        for entry in entries:
            p = codec.parse_participant(entry)
            self._protocols[(p.conference, p.name)] = p.protocol
            if conference is None or p.conference == conference:
                out.append(p)
        return out

    async def add_participant(self, conference: str, spec: ParticipantSpec) -> None:
        await self.call("participant.add", codec.participant_add_params(conference, spec))
        self._protocols[(conference, spec.name)] = spec.protocol

    async def connect_participant(self, conference: str, name: str) -> None:
        await self._participant_call("participant.connect", conference, name)

    async def disconnect_participant(self, conference: str, name: str) -> None:
        await self._participant_call("participant.disconnect", conference, name)

    async def remove_participant(self, conference: str, name: str) -> None:
        await self._participant_call("participant.remove", conference, name)
        self._protocols.pop((conference, name), None)

    async def set_audio_mute(self, conference: str, name: str, muted: bool) -> None:
        await self._participant_call(
            "participant.modify", conference, name, {"audioRxMuted": muted}
        )

    async def set_layout(self, conference: str, name: str, layout: int) -> None:
        """Set a participant's continuous-presence layout (`cpLayout` = "layout<N>")."""
        await self._participant_call(
            "participant.modify", conference, name, {"cpLayout": f"layout{int(layout)}"}
        )

    # ------------------------------------------------------------------ helpers

    async def _participant_call(
        self, method: str, conference: str, name: str, extra: dict[str, Any] | None = None
    ) -> None:
        """A participant.* call; a remembered protocol that proved stale is looked up once more."""
        cached = (conference, name) in self._protocols
        try:
            await self.call(method, {**await self._ident(conference, name), **(extra or {})})
        except DeviceError as exc:
            if exc.code != 5 or not cached:
                raise
            self._protocols.pop((conference, name), None)
            await self.call(method, {**await self._ident(conference, name), **(extra or {})})

    async def _ident(self, conference: str, name: str) -> dict[str, Any]:
        protocol = self._protocols.get((conference, name))
        if protocol is None:
            await self.participants(conference)
            protocol = self._protocols.get((conference, name))
        if protocol is None:
            raise NotFoundError(
                f"no participant {name!r} in conference {conference!r}",
                device=self.name,
                hint="list them with mcu-control mcu participants",
                code=5,
            )
        return codec.participant_id(conference, name, protocol)

    async def _enumerate(
        self, method: str, key: str, last_revision: int | None, **extra: Any
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Every entry over all pages, and the device's currentRevision (docs/protocols/codian.md §5)."""
        if method == "conference.enumerate" and self._more_than_four:
            extra["moreThanFour"] = True
        entries: list[dict[str, Any]] = []
        enumerate_id: str | None = None
        revision: int | None = None
        for _ in range(_MAX_PAGES):
            params = codec.enumerate_params(
                enumerate_id=enumerate_id, last_revision=last_revision, **extra
            )
            page = await self.call(method, params)
            items = page.get(key, [])
            if not isinstance(items, list):
                items = []
            entries.extend(i for i in items if isinstance(i, dict))
            rev = page.get("currentRevision")
            if isinstance(rev, int) and not isinstance(rev, bool):
                revision = rev
            next_id = page.get("enumerateID")
            if not next_id:
                return entries, revision
            enumerate_id = str(next_id)
        self._log.warning("%s: stopped after %d pages", method, _MAX_PAGES)
        return entries, revision
