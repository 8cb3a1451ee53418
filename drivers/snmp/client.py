"""SNMP transport: pysnmp 7 asyncio GET/SET with deadlines, mapped onto the error tree.

Requests never wait for each other: pysnmp matches replies by request id, and each request
has its own deadline, so a dead agent costs only its own requests their timeout. Engines are
shared: building one costs ~0.1 s of CPU, which would stall the event loop once per device. One
engine per event loop serves every v2c agent and every agent with the same SNMPv3 credentials
(pysnmp keys v3 users by name, so different keys for one user name need separate engines).
We send numeric OIDs only, so the engines share one MIB view without pysmi's ASN.1 compiler:
building that compiler costs ~1 s of CPU on an engine's first request, long enough to make
every other device's timeout fire.

Idle cost (a daemon reads each mixer every 15 s): pysnmp wakes its dispatcher every 0.1 s by
default to expire requests, for as long as the engine lives; our engines tick every 0.5 s
(`TICK_S`: every request has its own exact deadline here, pysnmp's tick only paces retries
and frees its cache), and only while one of their requests is in flight (`_Ticking`): an
idle engine does not wake the loop at all. And each request's OIDs are resolved against the
MIB view once per client, not at every GET (the view walk was a third of a GET's CPU).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Literal

import pysnmp.smi.mibs
from pysnmp.carrier.asyncio.dispatch import AsyncioDispatcher
from pysnmp.hlapi.v3arch import asyncio as hl
from pysnmp.smi import builder, view

from devices.errors import (
    AuthenticationError,
    DeviceTimeoutError,
    InvalidParameterError,
    ProtocolError,
    TransportError,
)
from devices.secrets import Secret, redact
from drivers.snmp.oids import Reading, check, status_meaning

_AUTH_FAILURES = {
    "WrongDigest",
    "UnknownUserName",
    "DecryptionError",
    "UnknownSecurityName",
    "UnsupportedSecurityLevel",
    "AuthenticationFailure",
    "NotInTimeWindow",
}

#: (id of the event loop, credentials key) -> [engine, number of clients using it, the loop]
_ENGINES: dict[tuple[int, tuple[object, ...]], list[Any]] = {}


_MIB_VIEW: list[Any] = []

#: pysnmp's timer tick (its default is 0.1 s: ten wake-ups a second per engine, forever)
TICK_S = 0.5


class _NoMibCompiler:
    """Stands in for pysmi: a MIB we do not ship precompiled is simply missing."""

    def compile(self, *names: str, **_: Any) -> dict[str, str]:
        return dict.fromkeys(names, "missing")


def _mib_view() -> Any:
    if not _MIB_VIEW:
        mib_builder = builder.MibBuilder()
        mib_builder.set_mib_compiler(_NoMibCompiler(), os.path.dirname(pysnmp.smi.mibs.__file__))
        _MIB_VIEW.append(view.MibViewController(mib_builder))
    return _MIB_VIEW[0]


class _Ticking:
    """pysnmp's timer for one engine, running only while a request of that engine is in flight.

    pysnmp starts its dispatcher's looping call (`loopingcall`, `handle_timeout`) when the first
    transport registers and keeps it until the dispatcher closes; the tick only retransmits and
    expires outstanding requests, so with none outstanding it has nothing to do. A request
    abandoned at our deadline is expired at the next request's ticks instead.
    """

    def __init__(self, engine: Any) -> None:
        self.dispatcher = engine.transport_dispatcher
        self.in_flight = 0

    def __enter__(self) -> None:
        self.in_flight += 1
        d = self.dispatcher
        if d.loopingcall is None and d.get_timer_resolution() > 0:
            d.loopingcall = asyncio.ensure_future(d.handle_timeout())

    def __exit__(self, *_: object) -> None:
        self.in_flight -= 1
        task, d = None, self.dispatcher
        if self.in_flight == 0:
            task, d.loopingcall = d.loopingcall, None
        if task is not None and not task.done():
            task.cancel()


def _acquire_engine(key: tuple[object, ...]) -> Any:
    loop = asyncio.get_running_loop()
    slot = (id(loop), key)
    entry = _ENGINES.get(slot)
    if entry is None or entry[2] is not loop:  # a new loop may reuse a dead loop's id
        engine = hl.SnmpEngine()
        engine.cache["mibViewController"] = _mib_view()
        dispatcher = AsyncioDispatcher()
        dispatcher.set_timer_resolution(TICK_S)  # before the engine registers its tick
        engine.register_transport_dispatcher(dispatcher)
        engine.cache["mcu_control.ticking"] = _Ticking(engine)
        entry = _ENGINES[slot] = [engine, 0, loop]
    entry[1] += 1
    return entry[0]


def _release_engine(key: tuple[object, ...], engine: Any) -> None:
    for slot, entry in list(_ENGINES.items()):
        if slot[1] == key and entry[0] is engine:
            entry[1] -= 1
            if entry[1] <= 0:
                del _ENGINES[slot]
                engine.close_dispatcher()
            return


class SnmpClient:
    """GET and SET against one agent (v2c community or v3 authPriv)."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int = 161,
        version: Literal["2c", "3"] = "2c",
        community: Secret | None = None,
        user: str | None = None,
        auth_key: Secret | None = None,
        priv_key: Secret | None = None,
        auth_protocol: str = "SHA",
        priv_protocol: str = "AES",
        context: str = "",
        timeout_s: float = 2.0,
        retries: int = 0,
    ) -> None:
        if version == "2c" and community is None:
            raise ValueError(f"{name}: SNMP v2c needs a community")
        if version == "3" and (user is None or auth_key is None or priv_key is None):
            raise ValueError(f"{name}: SNMPv3 authPriv needs user, auth_key and priv_key")
        self.name = name
        self.host = host
        self.port = port
        self.version = version
        self.timeout_s = timeout_s
        self.retries = retries
        self.context = context
        self._community = community
        self._user = user
        self._auth_key = auth_key
        self._priv_key = priv_key
        self._auth_protocol = auth_protocol
        self._priv_protocol = priv_protocol
        self._engine: Any = None
        self._target: Any = None
        self._binds: dict[str, Any] = {}  # OID -> its ObjectType, resolved by the first GET
        self._log = logging.getLogger(f"mcu_control.device.{name}")

    @property
    def deadline_s(self) -> float:
        """Longest a request may take: every try times out."""
        return self.timeout_s * (self.retries + 1)

    async def get(self, oids: list[str]) -> dict[str, Reading]:
        """Values by OID; noSuchInstance/noSuchObject read as None."""
        return {oid: value for oid, (value, _) in (await self.get_typed(oids)).items()}

    async def get_typed(self, oids: list[str]) -> dict[str, tuple[Reading, str]]:
        """Values by OID with the ASN.1 type the agent sent (`Integer32`, `OctetString`, …)."""

        binds = [self._bind(o) for o in oids]
        result = await self._request(hl.get_cmd, binds, what=f"GET {oids[0]}")
        return {str(name): (_decode(value), type(value).__name__) for name, value in result}

    def _bind(self, oid: str) -> Any:
        """The GET varbind of `oid`; pysnmp resolves it once and skips a resolved one after."""
        bind = self._binds.get(oid)
        if bind is None:
            bind = self._binds[oid] = hl.ObjectType(hl.ObjectIdentity(check(oid)))
        return bind

    async def set(self, oid: str, value: int) -> None:
        """SET an INTEGER; an OID the agent will not write is DeviceError(code="notWritable")."""

        bind = hl.ObjectType(hl.ObjectIdentity(check(oid)), hl.Integer32(value))
        result = await self._request(hl.set_cmd, [bind], what=f"SET {oid} = {value}")
        for _, answered in result:
            if _decode(answered) is None:  # snmpsim answers a read-only OID with noSuchInstance
                raise InvalidParameterError(
                    f"SET {oid} refused: the agent answered noSuchInstance (not writable here)",
                    device=self.name,
                    code="notWritable",
                    hint="the model says this OID is writable; check the model file or the device's SNMP export",
                )

    async def open(self) -> None:
        """Create the engine and resolve the target now, so later queries pay no set-up cost."""

        if self._engine is None:
            self._engine = _acquire_engine(self._engine_key)
        if self._target is None:
            try:
                async with asyncio.timeout(self.deadline_s):
                    # pysnmp expires requests on a 0.5 s tick, up to a tick early or late;
                    # without retries our own deadline is the one that fires, exactly
                    per_try = self.timeout_s if self.retries else self.timeout_s + 0.5
                    self._target = await hl.UdpTransportTarget.create(
                        (self.host, self.port), timeout=per_try, retries=self.retries
                    )
            except TimeoutError:
                raise self._timeout(f"resolving {self.host}") from None
            except OSError as exc:
                raise TransportError(
                    f"cannot resolve {self.host}: {exc}", device=self.name
                ) from None

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        self._target = None
        if engine is not None:
            _release_engine(self._engine_key, engine)

    @property
    def _engine_key(self) -> tuple[object, ...]:
        if self.version == "2c":
            return ("v2c",)
        return (
            "v3",
            self._user,
            self._auth_key,
            self._priv_key,
            self._auth_protocol,
            self._priv_protocol,
        )

    async def _request(self, command: Any, binds: list[Any], *, what: str) -> list[Any]:
        await self.open()
        try:
            # pysnmp checks its own timeouts on a 0.5 s tick; this deadline is the exact one
            async with asyncio.timeout(self.deadline_s):
                with self._engine.cache["mcu_control.ticking"]:
                    error_indication, error_status, error_index, result = await command(
                        self._engine,
                        self._auth(),
                        self._target,
                        self._context(),
                        *binds,
                        lookupMib=False,
                    )
        except TimeoutError:
            raise self._timeout(what) from None
        except OSError as exc:
            raise TransportError(
                f"{what} to {self.host}:{self.port} failed: {exc}", device=self.name
            ) from None
        if error_indication is not None:
            kind = type(error_indication).__name__
            if kind == "RequestTimedOut":
                raise self._timeout(what)
            text = redact(str(error_indication))
            if kind in _AUTH_FAILURES:
                hint = "check the SNMPv3 user, keys and protocols in the profile and on the device"
                if kind == "DecryptionError":
                    hint = (
                        "the agent cannot decrypt our request: check the SNMPv3 privacy key "
                        "and privacy protocol"
                    )
                raise AuthenticationError(
                    f"{what}: SNMPv3 authentication failed ({text})",
                    device=self.name,
                    code=kind,
                    hint=hint,
                )
            raise TransportError(f"{what}: {text}", device=self.name)
        status = int(error_status)
        if status:
            label = (
                error_status.prettyPrint() if hasattr(error_status, "prettyPrint") else str(status)
            )
            cls, meaning = status_meaning(label)
            raise cls(
                f"{what} refused: {label} (varbind {int(error_index)})",
                device=self.name,
                code=label,
                hint=meaning,
            )
        if not isinstance(result, list | tuple):
            raise ProtocolError(f"{what}: malformed answer", device=self.name)
        return list(result)

    def _auth(self) -> Any:
        if self.version == "2c":
            assert self._community is not None
            return hl.CommunityData(self._community.reveal(), mpModel=1)  # noqa: S508 — v2c is what many DSPs offer; v3 is supported
        assert self._user is not None
        assert self._auth_key is not None
        assert self._priv_key is not None
        auth = {
            "SHA": hl.usmHMACSHAAuthProtocol,
            "SHA256": hl.usmHMAC192SHA256AuthProtocol,
            "MD5": hl.usmHMACMD5AuthProtocol,
        }[self._auth_protocol]
        priv = {
            "AES": hl.usmAesCfb128Protocol,
            "AES256": hl.usmAesCfb256Protocol,
            "DES": hl.usmDESPrivProtocol,
        }[self._priv_protocol]
        return hl.UsmUserData(
            self._user,
            self._auth_key.reveal(),
            self._priv_key.reveal(),
            authProtocol=auth,
            privProtocol=priv,
        )

    def _context(self) -> Any:

        return hl.ContextData(contextName=self.context) if self.context else hl.ContextData()

    def _timeout(self, what: str) -> DeviceTimeoutError:
        hint = "check that the agent is up and reachable on UDP " + str(self.port)
        if self.version == "2c":
            hint += "; a wrong community also looks like silence"
        else:  # wrong auth keys are answered with a report; these often are not
            hint += (
                "; a wrong SNMPv3 privacy key or privacy protocol, or a context name the "
                f"agent does not serve ({self.context or 'none'!r}), also looks like silence"
            )
        applied = what.startswith("SET ")
        if applied:  # the SET may have been applied and only the answer lost
            hint = f"the SET may still be applied (check with `mcu-control mixer status`); {hint}"
        return DeviceTimeoutError(
            f"{what}: no answer from {self.host}:{self.port} within {self.deadline_s:g} s",
            device=self.name,
            hint=hint,
            timeout_s=self.deadline_s,
            may_have_applied=applied,
        )


def _decode(value: Any) -> Reading:
    kind = type(value).__name__
    if kind in ("NoSuchInstance", "NoSuchObject", "EndOfMibView", "Null"):
        return None
    if kind in ("OctetString", "DisplayString"):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value).hex()
    if kind in ("ObjectIdentifier", "ObjectName", "IpAddress"):
        return str(value.prettyPrint())
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value.prettyPrint())
