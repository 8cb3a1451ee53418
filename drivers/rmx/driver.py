"""`Mcu` driver for the Polycom RMX / RealPresence Collaboration Server XML API.

Wire facts: docs/protocols/rmx.md. The login session belongs to the TCP connection, so the
driver keeps exactly one keep-alive connection per MCU and serialises every transaction on
it. A connection idle for longer than `idle_timeout_s` is gone on the MCU's side (Apache's
KeepAliveTimeout, 15 s): the driver then opens a fresh one and logs in before the next
transaction, and an answer "User not found" (not logged in) is met by one LOGIN on the same
connection and one retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import ssl

from devices.errors import (
    DeviceError,
    InvalidParameterError,
    NotAllowedNowError,
    NotFoundError,
)
from devices.health import Health
from devices.interfaces import (
    CallState,
    Capability,
    Conference,
    ConferenceSpec,
    ConnectionState,
    Mcu,
    McuInfo,
    MediaStats,
    Participant,
    ParticipantSpec,
)
from devices.secrets import Secret
from drivers.rmx import codec
from drivers.rmx.codec import Answer, Content, Tokens, Transaction
from drivers.rmx.transport import RmxLink, StaleConnectionError

#: any path that is not a REST path is the XML API; clients post to the root (§1–2)
DEFAULT_PATH = "/"
#: Apache KeepAliveTimeout on the RMX (§6)
IDLE_TIMEOUT_S = 15.0
#: re-use the connection only while it has been idle for less than this share of the timeout
_REUSE_SHARE = 0.75
#: RECORDING_STATUS values read as "recording" (the enum is not documented: [U])
_RECORDING_WORDS = frozenset({"record", "recording", "start", "started", "on", "true"})


class RmxMcu(Mcu):
    """A Polycom RMX over one serialised keep-alive connection that carries the login."""

    capabilities = frozenset({Capability.MCU_RECORDING, Capability.MCU_REVISIONS})

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
        path: str = DEFAULT_PATH,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        records_itself: bool = False,
    ) -> None:
        super().__init__(name)
        self._host = host
        self._port = port or (443 if tls else 80)
        self._tls = tls
        self._path = path
        self._username = username
        self._password = password
        self._timeout_s = timeout_s
        self._max_idle_s = idle_timeout_s * _REUSE_SHARE
        #: the MCU records the conference itself (START_RECORDING) instead of dialling a recorder
        self.records_itself = records_itself
        self._ssl: ssl.SSLContext | None = None
        if tls:
            self._ssl = ssl.create_default_context(cafile=ca_file)
            if not verify_tls:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._log = logging.getLogger(f"mcu_control.device.{name}")
        self._link: RmxLink | None = None
        self._login: codec.Login | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._list_token: int | None = None
        self._confs: dict[int, Conference] = {}

    async def connect(self) -> None:
        """Open the connection and log in."""
        self.state = ConnectionState.CONNECTING
        try:
            async with self._lock:
                await self._session()
        except BaseException:
            self.state = ConnectionState.FAILED
            raise
        self.state = ConnectionState.CONNECTED

    async def close(self) -> None:
        """Close the connection (the MCU drops the login with it)."""
        async with self._lock:
            link, self._link = self._link, None
            self._login = None
            if link is not None:
                await link.close()
        self.state = ConnectionState.CLOSED

    async def info(self) -> McuInfo:
        """Product and version from LOGIN, the clock from GET_TIME, video ports from the report."""
        clock = await self._call(codec.GET_TIME, [])
        ports = codec.parse_ports(await self._call(codec.GET_CARMEL_REPORT, []))
        assert self._login is not None  # _call logged in
        total = ports.get("videoPortsTotal")
        return McuInfo(
            model=self._login.product,
            software_version=self._login.version,
            current_time=codec.parse_time(clock),
            api_version=self._login.api_number,
            total_video_ports=total if isinstance(total, int) else None,
        )

    async def health(self) -> Health:
        """GET_STATE (state), GET_TIME (clock) and GET_CARMEL_REPORT (ports)."""
        state = await self._call(codec.GET_STATE, [])
        clock = await self._call(codec.GET_TIME, [])
        report = await self._call(codec.GET_CARMEL_REPORT, [])
        return codec.parse_health(state, clock, report)

    async def conferences(self) -> list[Conference]:
        """Every ongoing conference; with OBJ_TOKEN only changes travel after the first read."""
        if self._list_token is not None:
            ls = codec.parse_conf_list(
                await self._call(codec.GET_LS, [("OBJ_TOKEN", self._list_token)])
            )
            if not ls.changed:
                return list(self._confs.values())
            merged = {c.unique_id: c for c in ls.full if c.unique_id is not None}
            if all(i in self._confs for i in ls.unchanged_ids) and ls.token is not None:
                merged.update({i: self._confs[i] for i in ls.unchanged_ids})
                self._confs = dict(sorted(merged.items()))
                self._list_token = ls.token
                return list(self._confs.values())
            self._log.debug("GET_LS listed conferences we never saw; reading the full list")
        ls = codec.parse_conf_list(await self._call(codec.GET_LS, [("OBJ_TOKEN", -1)]))
        self._confs = {c.unique_id: c for c in ls.full if c.unique_id is not None}
        self._list_token = ls.token
        return list(self._confs.values())

    async def create_conference(self, spec: ConferenceSpec) -> Conference:
        content = codec.reservation_content(spec, recording=self.records_itself)
        answer = await self._call(codec.START, content)
        ident = codec.parse_new_id(answer, device=self.name)
        return Conference(name=spec.name, active=True, numeric_id=spec.numeric_id, unique_id=ident)

    async def destroy_conference(self, name: str) -> None:
        """TERMINATE_CONF; the RMX answers "In progress" and ends the conference shortly after."""
        conf_id = await self._conf_id(name)
        await self._call(codec.TERMINATE_CONF, [("ID", conf_id)])

    async def participants(self, conference: str | None = None) -> list[Participant]:
        """Parties with their state; connected ones carry media counters from TRANS_PARTY/GET."""
        names = (
            [conference] if conference is not None else [c.name for c in await self.conferences()]
        )
        out: list[Participant] = []
        for name in names:
            conf_id, detail = await self._detail(name)
            for party in detail.parties:
                p = party.participant
                if p.call_state is CallState.CONNECTED:
                    p = await self._with_media(conf_id, party)
                out.append(p)
        return out

    async def add_participant(self, conference: str, spec: ParticipantSpec) -> None:
        """ADD_PARTY as dial-out (the RMX dials at once); a warning such as 1069 means added."""
        conf_id = await self._conf_id(conference)
        answer = await self._call(codec.ADD_PARTY, codec.party_content(conf_id, spec))
        if answer.warning:
            self._log.info("ADD_PARTY %s: applied with warning %s", spec.name, answer.description)
        if spec.defer_connection:
            party_id = codec.parse_new_party_id(answer, device=self.name)
            # "not yet": hang the dial-out up; a party not yet dialling is refused (1074)
            with contextlib.suppress(NotAllowedNowError):
                await self._call(
                    codec.SET_CONNECT,
                    [("ID", conf_id), ("CONNECT", False), ("PARTY_ID", party_id)],
                )

    async def connect_participant(self, conference: str, name: str) -> None:
        """Redial a dial-out party; one already connected or dialling is left alone.

        The RMX refuses SET_CONNECT true unless the party is disconnected or stand-by (§38).
        """
        conf_id, party = await self._party(conference, name)
        if party.participant.call_state not in (CallState.DISCONNECTED, CallState.DORMANT):
            return
        await self._call(
            codec.SET_CONNECT, [("ID", conf_id), ("CONNECT", True), ("PARTY_ID", party.id)]
        )

    async def disconnect_participant(self, conference: str, name: str) -> None:
        """Hang up; a party already disconnected (or never dialled) is left alone (§38: 1074)."""
        conf_id, party = await self._party(conference, name)
        if party.participant.call_state in (CallState.DISCONNECTED, CallState.DORMANT):
            return
        await self._call(
            codec.SET_CONNECT, [("ID", conf_id), ("CONNECT", False), ("PARTY_ID", party.id)]
        )

    async def remove_participant(self, conference: str, name: str) -> None:
        conf_id, party_id = await self._party_id(conference, name)
        await self._call(codec.DELETE_PARTY, [("ID", conf_id), ("PARTY_ID", party_id)])

    async def set_audio_mute(self, conference: str, name: str, muted: bool) -> None:
        """SET_AUDIO_VIDEO_MUTE with VIDEO_MUTE sent explicitly (else it copies AUDIO_MUTE)."""
        conf_id, detail = await self._detail(conference)
        for party in detail.parties:
            if party.participant.name == name:
                await self._call(
                    codec.SET_AUDIO_VIDEO_MUTE,
                    codec.mute_content(conf_id, party.id, audio=muted, video=False),
                )
                return
        raise _no_party(self.name, conference, name)

    async def start_recording(self, conference: str, spec: ParticipantSpec) -> None:
        """Recorder as a participant, or START_RECORDING when the MCU records itself."""
        if not self.records_itself:
            await super().start_recording(conference, spec)
            return
        conf_id = await self._conf_id(conference)
        await self._call(codec.START_RECORDING, [("ID", conf_id)])

    async def stop_recording(self, conference: str) -> None:
        """STOP_RECORDING (only when the MCU records itself)."""
        if not self.records_itself:
            raise self._unsupported("recording on the MCU itself (records_itself is off)")
        conf_id = await self._conf_id(conference)
        await self._call(codec.STOP_RECORDING, [("ID", conf_id)])

    async def recording_connected(self, conference: str, name: str) -> bool:
        if not self.records_itself:
            return await super().recording_connected(conference, name)
        _, detail = await self._detail(conference)
        return detail.recording.lower() in _RECORDING_WORDS

    # ------------------------------------------------------------------ helpers

    async def _call(self, tx: Transaction, content: Content) -> Answer:
        """One transaction on the session connection, serialised with every other one."""
        async with self._lock:
            link = await self._session()
            try:
                return await self._exchange(link, tx, content)
            except StaleConnectionError:
                self._log.info("the RMX closed the idle connection; reconnecting and logging in")
            except DeviceError as exc:
                if not codec.is_not_logged_in(exc):
                    raise
                self._log.info("RMX: this connection has no login session; logging in again")
                self._login = None
                await self._log_in(link)
                return await self._exchange(link, tx, content)
            link = await self._session()
            return await self._exchange(link, tx, content)

    async def _session(self) -> RmxLink:
        """The open, logged-in connection; a new one (and a LOGIN) when the old one is gone."""
        link = self._link
        if link is not None and self._login is not None and link.usable(self._max_idle_s):
            return link
        if link is not None:
            await link.close()
        self._login = None
        link = RmxLink(
            self.name,
            host=self._host,
            port=self._port,
            tls=self._tls,
            path=self._path,
            timeout_s=self._timeout_s,
            ssl_context=self._ssl,
        )
        self._link = link
        await link.open()
        await self._log_in(link)
        return link

    async def _log_in(self, link: RmxLink) -> None:
        content = codec.login_content(
            host=self._host, port=self._port, user=self._username, password=self._password.reveal()
        )
        try:
            answer = await self._send(link, codec.LOGIN, content, Tokens())
        except BaseException:
            await link.close()
            raise
        self._login = codec.parse_login(answer, device=self.name)

    async def _exchange(self, link: RmxLink, tx: Transaction, content: Content) -> Answer:
        assert self._login is not None
        return await self._send(link, tx, content, self._login.tokens)

    async def _send(
        self, link: RmxLink, tx: Transaction, content: Content, tokens: Tokens
    ) -> Answer:
        body = codec.encode_request(tx, content, tokens=tokens, message_id=next(self._ids))
        reply = await link.post(body, what=tx.what)
        return codec.decode_response(reply, tx=tx, device=self.name)

    async def _conf_id(self, name: str) -> int:
        for conf in await self.conferences():
            if conf.name == name and conf.unique_id is not None:
                return conf.unique_id
        raise NotFoundError(
            f"no conference {name!r}",
            device=self.name,
            hint="check the conference name (mcu-control mcu conferences)",
            code=2500,
        )

    async def _detail(self, conference: str) -> tuple[int, codec.ConfDetail]:
        conf_id = await self._conf_id(conference)
        answer = await self._call(codec.GET_CONF, [("ID", conf_id), ("OBJ_TOKEN", -1)])
        return conf_id, codec.parse_conference(answer, conference)

    async def _party_id(self, conference: str, name: str) -> tuple[int, int]:
        conf_id, party = await self._party(conference, name)
        return conf_id, party.id

    async def _party(self, conference: str, name: str) -> tuple[int, codec.Party]:
        conf_id, detail = await self._detail(conference)
        for party in detail.parties:
            if party.participant.name == name:
                return conf_id, party
        raise _no_party(self.name, conference, name)

    async def _with_media(self, conf_id: int, party: codec.Party) -> Participant:
        """The party re-read from TRANS_PARTY/GET, where the packet counters live (§41)."""
        try:
            answer = await self._call(
                codec.GET_PARTY, [("CONF_ID", conf_id), ("PARTY_ID", party.id)]
            )
        except (NotFoundError, InvalidParameterError) as exc:  # gone since the list was read
            self._log.debug("TRANS_PARTY/GET %s: %s", party.participant.name, exc)
            return party.participant
        media = codec.parse_party_media(answer)
        p = party.participant
        return _replace_media(p, media)


def _replace_media(p: Participant, media: MediaStats) -> Participant:
    ratio = media.rx_loss_ratio
    return dataclasses.replace(
        p,
        media=media,
        packet_loss_warning=p.packet_loss_warning or ratio > 0,
        packet_loss_critical=ratio > codec.LOSS_CRITICAL_RATIO,
    )


def _no_party(device: str, conference: str, name: str) -> NotFoundError:
    return NotFoundError(
        f"no participant {name!r} in conference {conference!r}",
        device=device,
        hint="list them with mcu-control mcu participants",
        code=2001,
    )
