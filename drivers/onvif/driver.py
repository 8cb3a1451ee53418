"""`PtzCamera` over ONVIF (Device, Media, PTZ) with onvif-zeep-async.

Clock skew: the library's own `adjust_time` handshake asks `GetSystemDateAndTime` without
authentication and adds the measured offset to every WS-Security `Created`, so a camera whose
clock is hours off still authenticates; we keep that mechanism and report the offset.
Arrival at a preset or position is confirmed by polling the position until it settles at the
target, because many cameras report MoveStatus UNKNOWN and GotoPreset returns at once.
That poll and every health read is a PTZ `GetStatus`, sent without zeep (the envelope and its
reply are in the codec, the same offset goes into its `Created`) over the PTZ service's own
HTTP transport; everything else goes through onvif-zeep-async.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
import weakref
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from devices.errors import (
    AuthenticationError,
    DeviceError,
    DeviceTimeoutError,
    McuControlError,
    NotFoundError,
    ProtocolError,
    TransportError,
)
from devices.health import Health, utcnow
from devices.interfaces import (
    Capability,
    ClockReading,
    ConnectionState,
    DeviceInfo,
    Preset,
    PtzCamera,
    PtzPosition,
    PtzStatus,
)
from devices.secrets import Secret, redact
from drivers.onvif import codec

if TYPE_CHECKING:
    from onvif import ONVIFCamera

T = TypeVar("T")

#: a clock further off than this is reported as degraded health (ONVIF tolerance ≈ 5 s)
CLOCK_WARN_S = 5.0
# health() re-reads the camera's clock this often, not at every read: clocks drift by seconds a
# day, and GetSystemDateAndTime is a third of a health read's SOAP work (drills read it fresh)
CLOCK_RECHECK_S = 300.0
# an idle connection to a camera is kept this long (onvif-zeep-async keeps it 4 s): longer than
# the 15 s between health reads, so a read reuses it instead of opening a TCP connection (a
# third of a read's CPU); a camera that closes it sooner costs a reconnect, as before
KEEPALIVE_S = 60

#: operations that change the camera: a timeout after sending one may still take effect
_COMMANDS = frozenset(
    {"GotoPreset", "SetPreset", "RemovePreset", "ContinuousMove", "AbsoluteMove", "Stop"}
)

_FAULT_HINTS = {
    "NotAuthorized": "check the username and password in the profile; "
    "if they are right, the camera may reject our clock — enable NTP on the camera",
    "NoToken": "the preset token does not exist on the camera; list them with `camera presets`",
    "NoProfile": "the media profile token is wrong; remove `profile_token` to use the first PTZ profile",
    "NoPTZProfile": "this media profile has no PTZ configuration; set `profile_token`",
    "MovingPTZ": "the camera is moving; stop it first",
    "TooManyPresets": "the camera's preset memory is full; remove a preset first",
}


class OnvifCamera(PtzCamera):
    """An ONVIF PTZ camera; one connection object per session (reconnect = new object)."""

    capabilities = frozenset(
        {Capability.PTZ_ABSOLUTE, Capability.PTZ_CLOCK, Capability.PTZ_SAVE_PRESET}
    )

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int = 80,
        username: str,
        password: Secret,
        profile_token: str | None = None,
        timeout_s: float = 3.0,
        settle_tolerance: float = 0.01,
        whole_second_timeouts: bool = True,
        settle_poll_s: float = 0.1,
    ) -> None:
        super().__init__(name)
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.profile_token = profile_token
        self.timeout_s = timeout_s
        self.settle_tolerance = settle_tolerance
        self.whole_second_timeouts = whole_second_timeouts
        self.settle_poll_s = settle_poll_s
        self.log = logging.getLogger(f"mcu_control.device.{name}")
        self._cam: ONVIFCamera | None = None
        self._devicemgmt: Any = None
        self._ptz: Any = None
        self._clock_offset_s: float | None = None
        self._dt_diff = dt.timedelta(0)  # the library's offset for WS-Security `Created`
        self._clock_read: tuple[float, float] | None = None  # (monotonic time, offset) of clock()
        self._lock = asyncio.Lock()

    @property
    def clock_offset_s(self) -> float | None:
        """Offset measured at connect (device minus ours), as used for WS-Security."""
        return self._clock_offset_s

    async def connect(self) -> None:
        """Measure the clock, discover services, pick the PTZ profile."""
        async with self._lock:
            if self.state == ConnectionState.CONNECTED:
                return
            self.state = ConnectionState.CONNECTING
            try:
                await self._connect()
            except BaseException:
                self.state = ConnectionState.FAILED
                await self._close_client()
                raise
            self.state = ConnectionState.CONNECTED

    async def close(self) -> None:
        await self._close_client()
        self.state = ConnectionState.CLOSED

    async def health(self) -> Health:
        """PTZ reachable (GetStatus, authenticated) and the clock offset; carries the position."""
        if self._clock_read is None or time.monotonic() - self._clock_read[0] >= CLOCK_RECHECK_S:
            await self.clock()
        assert self._clock_read is not None
        offset = self._clock_read[1]
        status = await self.status()
        details: dict[str, str | int | float | bool | None] = {
            "clock_offset_s": round(offset, 1),
            "moving": status.moving,
        }
        if status.position is not None:
            details |= {
                "pan": status.position.pan,
                "tilt": status.position.tilt,
                "zoom": status.position.zoom,
            }
        if abs(offset) > CLOCK_WARN_S:
            return Health.degraded(
                f"camera clock is {offset:+.0f} s off; enable NTP on the camera", **details
            )
        return Health.ok("PTZ reachable", **details)

    async def identify(self) -> DeviceInfo:
        await self.connect()
        info = await self._call("GetDeviceInformation", self._devicemgmt.GetDeviceInformation())
        return DeviceInfo(
            manufacturer=str(codec.get(info, "Manufacturer", "")),
            model=str(codec.get(info, "Model", "")),
            firmware=str(codec.get(info, "FirmwareVersion", "")),
            serial=str(codec.get(info, "SerialNumber", "") or ""),
            extra={"hardware_id": str(codec.get(info, "HardwareId", "") or "")},
        )

    async def clock(self) -> ClockReading:
        """The camera's UTC clock and its offset from ours (asked without authentication)."""
        await self.connect()
        sent = utcnow()
        answer = await self._call(
            "GetSystemDateAndTime", self._devicemgmt.authless_GetSystemDateAndTime()
        )
        received = utcnow()
        try:
            device = codec.device_time(answer)
        except (ValueError, TypeError) as exc:
            raise ProtocolError(
                f"bad GetSystemDateAndTime reply: {exc}", device=self.name
            ) from None
        reading = codec.clock_reading(device, sent, received)
        self._clock_read = (time.monotonic(), reading.offset_s)
        return reading

    async def presets(self) -> list[Preset]:
        await self.connect()
        answer = await self._call("GetPresets", self._ptz.GetPresets(self._profile()))
        return [codec.preset(p) for p in answer or []]

    async def goto_preset(
        self, token: str, *, wait: bool = True, timeout_s: float = 10.0
    ) -> PtzStatus:
        """GotoPreset, then (with `wait`) poll until the position settles at the preset's."""
        await self.connect()
        listed = await self.presets()
        match = next((p for p in listed if p.token == token), None)
        if match is None:  # some cameras accept any token and do nothing: refuse it first
            tokens = ", ".join(repr(p.token) for p in listed) or "none"
            raise NotFoundError(
                f"the camera lists no preset with token {token!r} (its tokens: {tokens})",
                device=self.name,
                hint="list them with `mcu-control camera presets POINT CAMERA` "
                "and fix the profile's `presets:` table",
                code="NoToken",
            )
        target = match.position
        await self._call(
            "GotoPreset", self._ptz.GotoPreset({**self._profile(), "PresetToken": token})
        )
        if not wait:
            return await self.status()
        return await self._settle(target, timeout_s, f"preset {token!r}")

    async def save_preset(self, token: str | None, name: str) -> str:
        """SetPreset: overwrite `token`, or create a new preset when token is None."""
        await self.connect()
        request: dict[str, Any] = {**self._profile(), "PresetName": name}
        if token is not None:
            request["PresetToken"] = token
        answer = await self._call("SetPreset", self._ptz.SetPreset(request))
        return str(answer)

    async def status(self) -> PtzStatus:
        """PTZ `GetStatus` (a health read, a settle poll): built and parsed by the codec."""
        await self.connect()
        request = codec.status_request(
            str(self.profile_token),
            username=self.username,
            password=self._password.reveal(),
            created=utcnow() + self._dt_diff,
            nonce=os.urandom(16),
        )
        http_status, body = await self._call("GetStatus", self._post_status(request))
        return self._status_reply(http_status, body)

    async def continuous_move(
        self, pan: float, tilt: float, zoom: float, *, timeout_s: float
    ) -> None:
        await self.connect()
        request = {
            **self._profile(),
            "Velocity": codec.velocity(pan, tilt, zoom),
            "Timeout": codec.move_timeout(timeout_s, whole_seconds=self.whole_second_timeouts),
        }
        await self._call("ContinuousMove", self._ptz.ContinuousMove(request))

    async def stop(self) -> None:
        await self.connect()
        request = {**self._profile(), "PanTilt": True, "Zoom": True}
        await self._call("Stop", self._ptz.Stop(request))

    async def absolute_move(
        self, position: PtzPosition, *, wait: bool = True, timeout_s: float = 10.0
    ) -> PtzStatus:
        await self.connect()
        request = {**self._profile(), "Position": codec.vector(position)}
        await self._call("AbsoluteMove", self._ptz.AbsoluteMove(request))
        if not wait:
            return await self.status()
        return await self._settle(position, timeout_s, "the requested position")

    # ------------------------------------------------------------------ private

    async def _connect(self) -> None:
        from onvif import ONVIFCamera

        _install_http_401_check()
        _keep_connections_alive()
        await _load_wsdl_once()
        cam = ONVIFCamera(
            self.host,
            self.port,
            self.username,
            self._password.reveal(),
            adjust_time=True,
            no_cache=True,
        )
        self._cam = cam
        await self._call("service discovery", cam.update_xaddrs())
        diff = cam.dt_diff
        self._clock_offset_s = diff.total_seconds() if diff is not None else None
        self._dt_diff = diff if diff is not None else dt.timedelta(0)
        if self._clock_offset_s is not None and abs(self._clock_offset_s) > CLOCK_WARN_S:
            self.log.warning(
                "camera clock is %+.0f s off ours; compensating WS-Security timestamps",
                self._clock_offset_s,
            )
        self._devicemgmt = await self._call("device service", cam.create_devicemgmt_service())
        self._ptz = await self._call("PTZ service", cam.create_ptz_service())
        if self.profile_token is None:
            media = await self._call("media service", cam.create_media_service())
            profiles = await self._call("GetProfiles", media.GetProfiles())
            ptz_profiles = [p for p in profiles or [] if codec.get(p, "PTZConfiguration")]
            if not ptz_profiles:
                raise DeviceError(
                    "no media profile with a PTZ configuration",
                    device=self.name,
                    hint="is this a PTZ camera? set `profile_token` in the profile",
                    code="NoPTZProfile",
                )
            self.profile_token = str(codec.get(ptz_profiles[0], "token"))

    async def _close_client(self) -> None:
        cam, self._cam = self._cam, None
        self._devicemgmt = self._ptz = None
        if cam is not None:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await cam.close()
            except Exception:  # closing must not raise; the sockets go with the object
                self.log.debug("error while closing the ONVIF client", exc_info=True)

    def _profile(self) -> dict[str, Any]:
        return {"ProfileToken": self.profile_token}

    async def _settle(self, target: PtzPosition | None, timeout_s: float, what: str) -> PtzStatus:
        """Poll until the position is at `target` (or, with no target, stops changing)."""
        tol = self.settle_tolerance
        last: PtzPosition | None = None
        status = await self.status()
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    pos = status.position
                    if pos is not None and status.moving is not True:
                        if target is not None and pos.distance(target) <= tol:
                            return PtzStatus(pos, False, status.error)
                        if target is None and last is not None and pos.distance(last) <= tol / 10:
                            return PtzStatus(pos, False, status.error)
                    last = pos
                    await asyncio.sleep(self.settle_poll_s)
                    status = await self.status()
        except TimeoutError:
            where = f"; last position {last}" if last else ""
            raise DeviceTimeoutError(
                f"did not arrive at {what} within {timeout_s:g} s{where}",
                device=self.name,
                hint="the camera may be blocked, or the preset is far; retry with a longer timeout",
                timeout_s=timeout_s,
            ) from None

    async def _call(self, what: str, awaitable: Awaitable[T]) -> T:
        """Await one ONVIF request with our timeout; map every failure to our error tree."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await awaitable
        except McuControlError:
            raise
        except TimeoutError:
            applied = what in _COMMANDS
            hint = f"check that {self.host}:{self.port} is the camera's ONVIF port"
            if applied:
                hint = f"the command may still be applied (check with `mcu-control camera status`); {hint}"
            raise DeviceTimeoutError(
                f"{what}: no answer within {self.timeout_s:g} s",
                device=self.name,
                hint=hint,
                timeout_s=self.timeout_s,
                may_have_applied=applied,
            ) from None
        except Exception as exc:  # noqa: BLE001 — zeep, aiohttp and lxml raise many kinds; all are mapped
            raise self._map_error(what, exc) from None

    async def _post_status(self, request: bytes) -> tuple[int, bytes]:
        """POST on the PTZ service's own aiohttp session (its kept connection, its timeouts).

        Not through the library's transport: its reply conversion to an httpx response is half
        the CPU of this call. Like that transport, one retry when the camera had closed the kept
        connection before the request went out (RFC 9112 §9.3.1); GetStatus changes nothing.
        """
        import aiohttp

        ptz = self._ptz
        session: aiohttp.ClientSession = ptz.transport.session

        async def post() -> tuple[int, bytes]:
            async with session.post(
                ptz.xaddr, data=request, headers=codec.GET_STATUS_HEADERS
            ) as response:
                return response.status, await response.read()

        try:
            return await post()
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientConnectionResetError):
            return await post()

    def _status_reply(self, http_status: int, body: bytes) -> PtzStatus:
        what = "GetStatus"
        if http_status == 401:
            raise self._http_401(what)
        try:
            status = codec.parse_status_reply(body)
        except codec.SoapFault as fault:
            raise self._fault_error(
                what, fault.subcode, fault.reason, refused=fault.refuses_credentials
            ) from None
        except ValueError as exc:
            if http_status != 200:
                raise self._http_error(what, http_status) from None
            raise ProtocolError(
                f"{what}: the camera's answer is not valid ONVIF ({redact(str(exc))})",
                device=self.name,
                hint="is this port an ONVIF service?",
            ) from None
        if http_status != 200:
            raise self._http_error(what, http_status)
        return status

    def _fault_error(self, what: str, code: str, reason: str, *, refused: bool) -> McuControlError:
        message = f"{what} refused: {redact(reason or code)}"
        if refused:
            return AuthenticationError(
                message, device=self.name, hint=_FAULT_HINTS["NotAuthorized"], code=code
            )
        return codec.fault_error(code)(
            message, device=self.name, hint=_FAULT_HINTS.get(code), code=code
        )

    def _http_401(self, what: str) -> AuthenticationError:
        return AuthenticationError(
            f"{what}: HTTP 401 Unauthorized from the camera",
            device=self.name,
            hint=_FAULT_HINTS["NotAuthorized"],
            code=401,
        )

    def _http_error(self, what: str, http_status: int) -> DeviceError:
        return DeviceError(
            f"{what}: HTTP {http_status} from the camera", device=self.name, code=http_status
        )

    def _map_error(self, what: str, exc: Exception) -> McuControlError:
        import aiohttp
        import zeep.exceptions
        from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError
        from onvif.util import is_auth_error

        text = redact(str(exc))
        if isinstance(exc, zeep.exceptions.Fault):
            subcodes = [getattr(q, "localname", str(q)) for q in exc.subcodes or []]
            code = subcodes[-1] if subcodes else str(exc.code or "Fault")
            # the library's heuristic: most cameras answer a bad token with some other fault
            # whose reason mentions authorisation, not with the NotAuthorized subcode
            refused = "NotAuthorized" in subcodes or is_auth_error(exc)
            return self._fault_error(what, code, str(exc.message or ""), refused=refused)
        if isinstance(exc, ONVIFAuthError):
            return AuthenticationError(
                f"{what}: {text}", device=self.name, hint=_FAULT_HINTS["NotAuthorized"]
            )
        if isinstance(exc, ONVIFTimeoutError):
            return DeviceTimeoutError(f"{what}: {text}", device=self.name, timeout_s=self.timeout_s)
        if isinstance(exc, aiohttp.ClientResponseError):  # it answered, but not in HTTP
            return ProtocolError(
                f"{what}: the answer from {self.host}:{self.port} is not HTTP: "
                f"{text or type(exc).__name__}",
                device=self.name,
                hint="is this port the camera's ONVIF service?",
            )
        if isinstance(exc, aiohttp.ClientError | OSError):
            return TransportError(
                f"{what}: cannot reach {self.host}:{self.port}: {text or type(exc).__name__}",
                device=self.name,
                hint="check the camera's power, network and ONVIF port",
            )
        if isinstance(exc, zeep.exceptions.TransportError) and exc.status_code == 401:
            return self._http_401(what)
        if isinstance(exc, zeep.exceptions.TransportError):
            return self._http_error(what, exc.status_code)
        if isinstance(exc, ONVIFError):
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, Exception) and cause is not exc:
                return self._map_error(what, cause)
        return ProtocolError(
            f"{what}: the camera's answer is not valid ONVIF ({type(exc).__name__}: {text})",
            device=self.name,
            hint="is this port an ONVIF service?",
        )


def _install_http_401_check() -> None:
    """Make an HTTP 401 a zeep TransportError(401) before zeep tries to parse its body.

    Cameras that also speak HTTP Digest answer a refused token with 401 and an HTML or empty
    body, which zeep reports as unparseable XML (an AttributeError): the status, which means
    "credentials", is lost. onvif-zeep-async builds every service's transport from the module
    global `AsyncTransportProtocolErrorHandler`; we substitute a subclass that checks the
    status, once per process. Every other answer passes through unchanged.
    """
    import onvif.client
    import zeep.exceptions

    if getattr(onvif.client.AsyncTransportProtocolErrorHandler, "checks_http_401", False):
        return
    refused: Any = zeep.exceptions.TransportError  # untyped in zeep
    base: Any = onvif.client.AsyncTransportProtocolErrorHandler  # untyped base class
    original = base.post_xml

    async def post_xml(self: Any, address: str, envelope: Any, headers: dict[str, str]) -> Any:
        response = await original(self, address, envelope, headers)
        if response.status_code == 401:
            raise refused(status_code=401, message="401 Unauthorized")
        return response

    onvif.client.AsyncTransportProtocolErrorHandler = type(
        "CheckedTransport", (base,), {"checks_http_401": True, "post_xml": post_xml}
    )


def _keep_connections_alive() -> None:
    """Keep idle connections to cameras `KEEPALIVE_S` instead of the library's 4 s.

    Each ONVIF service builds its aiohttp connector from the module global `KEEPALIVE_EXPIRY`
    (no parameter reaches it). A pooled socket the camera closed in the meantime is retried
    on a new connection by the library's transport (a disconnect before the request was sent).
    """
    import onvif.client

    onvif.client.KEEPALIVE_EXPIRY = max(onvif.client.KEEPALIVE_EXPIRY, KEEPALIVE_S)


class _Wsdl:
    loaded = False  # in this process


_wsdl_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def _load_wsdl_once() -> None:
    """Parse the ONVIF WSDL documents once per process, before any camera connects.

    onvif-zeep-async caches parsed documents, but cameras connecting at the same time all miss
    the cache and each parse the same schemas in a thread (500 cameras: minutes of CPU and
    ~2 GB). Loading them for an offline client needs no network, so no camera waits on another.
    """
    if _Wsdl.loaded:
        return
    lock = _wsdl_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        if _Wsdl.loaded:
            return
        from onvif import ONVIFCamera
        from onvif.definition import SERVICES

        offline = ONVIFCamera("127.0.0.1", 9, "-", "-", no_cache=True)
        try:
            for service in ("ptz", "media"):
                offline.xaddrs[SERVICES[service]["ns"]] = f"http://127.0.0.1:9/{service}"
            await offline.create_devicemgmt_service()
            await offline.create_ptz_service()
            await offline.create_media_service()
        except Exception:  # only an optimisation: each camera still loads what it needs
            logging.getLogger("mcu_control.device").debug("WSDL preload failed", exc_info=True)
        finally:
            _Wsdl.loaded = True
            await offline.close()
