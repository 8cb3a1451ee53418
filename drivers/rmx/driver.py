"""`Mcu` driver for the Polycom RMX / RealPresence Collaboration Server XML API (protocols.md §2)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import xml.etree.ElementTree as ET

from devices.errors import DeviceError, McuControlError
from devices.health import Health
from devices.interfaces import (
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
from drivers.http import HttpTransport
from drivers.rmx import codec
from drivers.rmx.codec import Content, Tokens

#: the exact path is unverified (protocols.md §8.2); clients post XML documents to the root
DEFAULT_PATH = "/"


class RmxMcu(Mcu):
    """A Polycom RMX; logs in (the password travels only in LOGIN), then uses its tokens."""

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
    ) -> None:
        super().__init__(name)
        self._host = host
        self._port = port or (443 if tls else 80)
        self._username = username
        self._password = password
        self._transport = HttpTransport(
            name,
            host=host,
            port=port,
            tls=tls,
            path=path,
            timeout_s=timeout_s,
            ca_file=ca_file,
            verify_tls=verify_tls,
        )
        self._log = logging.getLogger(f"mcu_control.device.{name}")
        self._login: codec.Login | None = None
        self._login_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._conf_cache: tuple[int, list[Conference]] | None = None

    async def connect(self) -> None:
        """Log in; the RMX session tokens are kept for later calls."""
        self.state = ConnectionState.CONNECTING
        try:
            await self._ensure_login(force=True)
        except BaseException:
            self.state = ConnectionState.FAILED
            raise
        self.state = ConnectionState.CONNECTED

    async def close(self) -> None:
        self._login = None
        await self._transport.close()
        self.state = ConnectionState.CLOSED

    async def info(self) -> McuInfo:
        login = await self._ensure_login()
        state = await self._call("TRANS_MCU", "GET_STATE", [])
        return McuInfo(
            model=login.product,
            software_version=login.version,
            current_time=codec.parse_time(state),
            api_version=login.api_number,
        )

    async def health(self) -> Health:
        state = await self._call("TRANS_MCU", "GET_STATE", [])
        report = await self._call("TRANS_RSRC_REPORT", "GET_REPORT", [])
        return codec.parse_health(state, report)

    async def conferences(self) -> list[Conference]:
        if self._conf_cache is not None:
            token, cached = self._conf_cache
            root = await self._call("TRANS_CONF_LIST", "GET_LS", [("OBJ_TOKEN", token)])
            new_token, changed, _ = codec.parse_conf_list(root)
            if not changed and new_token == token:
                return list(cached)
        root = await self._call("TRANS_CONF_LIST", "GET_LS", [("OBJ_TOKEN", -1)])
        new_token, _, confs = codec.parse_conf_list(root)
        if new_token is not None:
            self._conf_cache = (new_token, confs)
        return list(confs)

    async def create_conference(self, spec: ConferenceSpec) -> Conference:
        root = await self._call("TRANS_RES_1", "START", codec.reservation_content(spec))
        ident = codec.parse_new_id(root, device=self.name)
        return Conference(name=spec.name, active=True, numeric_id=spec.numeric_id, unique_id=ident)

    async def destroy_conference(self, name: str) -> None:
        conf_id = await self._conf_id(name)
        await self._call("TRANS_CONF_2", "TERMINATE_CONF", [("ID", conf_id)])

    async def participants(self, conference: str | None = None) -> list[Participant]:
        names = (
            [conference] if conference is not None else [c.name for c in await self.conferences()]
        )
        out: list[Participant] = []
        for name in names:
            out.extend(p for _, p in await self._parties(name))
        return out

    async def add_participant(self, conference: str, spec: ParticipantSpec) -> None:
        conf_id = await self._conf_id(conference)
        await self._call("TRANS_CONF_1", "ADD_PARTY", codec.party_content(conf_id, spec))
        if spec.defer_connection:
            # the RMX dials a dial-out party at once; defer means "not yet": hang it up
            await self.disconnect_participant(conference, spec.name)

    async def connect_participant(self, conference: str, name: str) -> None:
        conf_id, party_id = await self._party_id(conference, name)
        await self._call(
            "TRANS_PARTY",
            "SET_CONNECT",
            [("ID", conf_id), ("PARTY_ID", party_id), ("CONNECT", True)],
        )

    async def disconnect_participant(self, conference: str, name: str) -> None:
        conf_id, party_id = await self._party_id(conference, name)
        await self._call(
            "TRANS_PARTY",
            "SET_CONNECT",
            [("ID", conf_id), ("PARTY_ID", party_id), ("CONNECT", False)],
        )

    async def remove_participant(self, conference: str, name: str) -> None:
        conf_id, party_id = await self._party_id(conference, name)
        await self._call("TRANS_CONF_1", "DELETE_PARTY", [("ID", conf_id), ("PARTY_ID", party_id)])

    async def set_audio_mute(self, conference: str, name: str, muted: bool) -> None:
        conf_id, party_id = await self._party_id(conference, name)
        await self._call(
            "TRANS_PARTY",
            "SET_AUDIO_VIDEO_MUTE",
            [("ID", conf_id), ("PARTY_ID", party_id), ("AUDIO_MUTE", muted)],
        )

    # ------------------------------------------------------------------ helpers

    async def _call(self, trans: str, action: str, content: Content) -> ET.Element:
        """One transaction with the session tokens; logs in again once if they were refused."""
        login = await self._ensure_login()
        try:
            return await self._send(trans, action, content, login.tokens)
        except McuControlError as exc:
            if not codec.is_token_error(exc):
                raise
            self._log.info("RMX refused our session tokens; logging in again")
        login = await self._ensure_login(force=True)
        return await self._send(trans, action, content, login.tokens)

    async def _send(self, trans: str, action: str, content: Content, tokens: Tokens) -> ET.Element:
        body = codec.encode_request(
            trans, action, content, tokens=tokens, message_id=next(self._ids)
        )
        reply = await self._transport.post(body, what=f"{trans}/{action}")
        return codec.decode_response(reply, trans=trans, device=self.name)

    async def _ensure_login(self, *, force: bool = False) -> codec.Login:
        async with self._login_lock:
            if self._login is None or force:
                content = codec.login_content(
                    host=self._host,
                    port=self._port,
                    user=self._username,
                    password=self._password.reveal(),
                )
                root = await self._send("TRANS_MCU", "LOGIN", content, Tokens())
                self._login = codec.parse_login(root, device=self.name)
            return self._login

    async def _conf_id(self, name: str) -> int:
        for conf in await self.conferences():
            if conf.name == name and conf.unique_id is not None:
                return conf.unique_id
        raise DeviceError(
            f"no conference {name!r}",
            device=self.name,
            hint="check the conference name (mcu-control mcu conferences)",
            code="no-such-conference",
        )

    async def _parties(self, conference: str) -> list[tuple[int, Participant]]:
        conf_id = await self._conf_id(conference)
        root = await self._call("TRANS_CONF_2", "GET", [("ID", conf_id), ("OBJ_TOKEN", -1)])
        return codec.parse_parties(root, conference)

    async def _party_id(self, conference: str, name: str) -> tuple[int, int]:
        conf_id = await self._conf_id(conference)
        for party_id, p in await self._parties(conference):
            if p.name == name:
                return conf_id, party_id
        raise DeviceError(
            f"no participant {name!r} in conference {conference!r}",
            device=self.name,
            hint="list them with mcu-control mcu participants",
            code="no-such-participant",
        )
