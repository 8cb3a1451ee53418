"""ONVIF PTZ camera simulator: SOAP 1.2 over HTTP (Device, Media, PTZ), WS-Security digest.

Written from docs/protocols/onvif.md, not from our driver. `GetSystemDateAndTime` is answered without
authentication; every other operation needs a UsernameToken PasswordDigest whose `Created` is
within `tolerance_s` of the simulator's own clock, which may be set wrong on purpose
(`clock_offset_s`). The `quirks` switch imitates cheap firmwares: MoveStatus always UNKNOWN and
fractional ContinuousMove timeouts rejected.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import hashlib
import hmac
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

from hil.sim.ptz_motion import PtzMotion

log = logging.getLogger("hil.sim.onvif")

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
DIGEST = "#PasswordDigest"
PAN_TILT_POS = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"
ZOOM_POS = "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"
PRE_AUTH = {"GetSystemDateAndTime"}
RECEIVED_KEPT = 64  # requests kept in `OnvifCameraSim.received`
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


@dataclass
class OnvifFaults:
    """Switches a test (or a scenario file) flips to make the camera misbehave."""

    no_reply: bool = False  # accept the request, never answer
    garbage: bool = False  # answer 200 with bytes that are not XML
    reject_auth: bool = False  # NotAuthorized whatever the credentials
    http_500: bool = False  # answer HTTP 500 with an empty body
    #: how a refused token is answered: "fault" (400 + ter:NotAuthorized, ONVIF Core), "http-401"
    #: (401 + a Digest challenge, cameras that also speak HTTP Digest) or "reason-only" (400,
    #: a fault without the NotAuthorized subcode, the reason text saying so: common firmware)
    reject_auth_as: str = "fault"
    #: GotoPreset to a token the camera does not list answers OK and does nothing (seen on
    #: several firmwares instead of ter:NoToken)
    accept_unknown_preset: bool = False

    def update(self, values: Mapping[str, Any]) -> None:
        """Set switches from plain data (a scenario file)."""
        for key, value in values.items():
            if not hasattr(self, key):
                raise KeyError(f"unknown ONVIF fault {key!r}")
            setattr(self, key, value)


class SoapFaultError(Exception):
    def __init__(self, code: str, subcodes: Sequence[str], reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.code = code
        self.subcodes = subcodes
        self.reason = reason
        self.status = status


class OnvifCameraSim:
    """An ONVIF Profile S PTZ camera on one HTTP port."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "mcuctl",
        password: str = "mcuctl-demo",
        clock_offset_s: float = 0.0,
        tolerance_s: float = 5.0,
        presets: Mapping[str, Sequence[Any]] | None = None,
        move_time_s: float = 0.3,
        quirks: bool = False,
        profile_token: str = "profile_1",
        manufacturer: str = "SimCam",
        model: str = "PTZ-Sim 1",
        firmware: str = "1.0.0",
        serial: str = "SIM0001",
        default_timeout_s: float = 10.0,
        max_presets: int = 64,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.clock_offset_s = clock_offset_s
        self.tolerance_s = tolerance_s
        self.quirks = quirks
        self.profile_token = profile_token
        self.info = (manufacturer, model, firmware, serial)
        self.default_timeout_s = default_timeout_s
        self.max_presets = max_presets
        self.motion = PtzMotion(move_time_s=move_time_s)
        #: token → (name, (pan, tilt, zoom))
        self.presets: dict[str, tuple[str, tuple[float, float, float]]] = {}
        for token, spec in (presets or {}).items():
            name, pan, tilt, zoom = spec
            self.presets[token] = (str(name), (float(pan), float(tilt), float(zoom)))
        self.faults = OnvifFaults()
        #: operation names in the order received, for tests
        self.calls: list[str] = []
        #: (HTTP headers, body) of the latest requests, in order, for tests that compare wire
        #: bytes (bounded: a rig's camera answers a health read every few seconds for days)
        self.received: collections.deque[tuple[dict[str, str], bytes]] = collections.deque(
            maxlen=RECEIVED_KEPT
        )
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._next_token = 1
        self._reached_at: str | None = None  # the Host the current request was sent to

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def xaddr_base(self) -> str:
        """Where services are advertised: the address the client used, as most cameras do.

        So a NAT or a fault proxy in front of the camera stays in the path of every call.
        """
        return f"http://{self._reached_at}" if self._reached_at else self.base_url

    def now(self) -> dt.datetime:
        """The camera's own (possibly wrong) UTC clock."""
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.clock_offset_s)

    async def start(self) -> None:
        app = web.Application()
        for service in ("device_service", "media_service", "ptz_service"):
            app.router.add_post(f"/onvif/{service}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._stopping.clear()
        log.info("ONVIF sim on %s/onvif/device_service", self.base_url)

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append((dict(request.headers), body))
        self._reached_at = request.headers.get("Host")  # ops below run without awaiting
        if self.faults.no_reply:
            await self._stopping.wait()
            return web.Response(status=503)
        if self.faults.http_500:
            return web.Response(status=500)
        if self.faults.garbage:
            return web.Response(
                body=b"\x13\x37 this is not XML", content_type="application/soap+xml"
            )
        try:
            root = ET.fromstring(body)
            header = root.find("env:Header", NS)
            op_el = root.find("env:Body/*", NS)
            if op_el is None:
                raise SoapFaultError("env:Sender", ["ter:InvalidArgVal"], "empty SOAP body")  # noqa: TRY301
            op = op_el.tag.rsplit("}", 1)[-1]
            self.calls.append(op)
            if op not in PRE_AUTH:
                self._authenticate(header)
            handler = getattr(self, f"_op_{op}", None)
            if handler is None:
                raise SoapFaultError(  # noqa: TRY301
                    "env:Receiver", ["ter:ActionNotSupported"], f"{op} is not supported"
                )
            prefix, payload = handler(op_el)
            xml = f"<{prefix}:{op}Response>{payload}</{prefix}:{op}Response>"
            return _envelope(xml, 200)
        except SoapFaultError as fault:
            if fault.status == 401:
                return web.Response(
                    status=401,
                    text="401 Unauthorized",
                    headers={"WWW-Authenticate": 'Digest realm="onvif-sim", nonce="0", qop="auth"'},
                )
            return _fault(fault)
        except ET.ParseError as exc:
            return _fault(
                SoapFaultError("env:Sender", ["ter:WellFormed"], f"XML not well formed: {exc}")
            )

    def _authenticate(self, header: ET.Element | None) -> None:
        style = self.faults.reject_auth_as
        if style not in ("fault", "http-401", "reason-only"):
            raise ValueError(f"unknown reject_auth_as {style!r}")
        not_auth = SoapFaultError(
            "env:Sender",
            [] if style == "reason-only" else ["ter:NotAuthorized"],
            "Sender not Authorized",
            status=401 if style == "http-401" else 400,
        )
        if self.faults.reject_auth or header is None:
            raise not_auth
        token = header.find("wsse:Security/wsse:UsernameToken", NS)
        if token is None:
            raise not_auth
        user = token.findtext("wsse:Username", "", NS)
        pw = token.find("wsse:Password", NS)
        nonce = token.findtext("wsse:Nonce", None, NS)
        created = token.findtext("wsu:Created", None, NS)
        if pw is None or not nonce or not created or not pw.get("Type", "").endswith(DIGEST):
            raise not_auth
        raw_nonce = base64.b64decode(nonce)
        digest = base64.b64encode(
            hashlib.sha1(raw_nonce + created.encode() + self.password.encode()).digest()
        ).decode()
        if user != self.username or not hmac.compare_digest(digest, (pw.text or "").strip()):
            raise not_auth
        try:
            when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            raise not_auth from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        skew = abs((when - self.now()).total_seconds())
        if skew > self.tolerance_s:
            log.info("rejecting token: Created is %.1f s off the camera clock", skew)
            raise not_auth

    # ------------------------------------------------------------------ device

    def _op_GetSystemDateAndTime(  # noqa: N802 — named after the ONVIF operation
        self, _el: ET.Element
    ) -> tuple[str, str]:
        now = self.now()
        return "tds", (
            "<tds:SystemDateAndTime>"
            "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime>{_datetime(now)}</tt:UTCDateTime>"
            f"<tt:LocalDateTime>{_datetime(now)}</tt:LocalDateTime>"
            "</tds:SystemDateAndTime>"
        )

    def _op_GetDeviceInformation(  # noqa: N802 — named after the ONVIF operation
        self, _el: ET.Element
    ) -> tuple[str, str]:
        manufacturer, model, firmware, serial = self.info
        return "tds", (
            f"<tds:Manufacturer>{escape(manufacturer)}</tds:Manufacturer>"
            f"<tds:Model>{escape(model)}</tds:Model>"
            f"<tds:FirmwareVersion>{escape(firmware)}</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(serial)}</tds:SerialNumber>"
            "<tds:HardwareId>sim</tds:HardwareId>"
        )

    def _op_GetServices(  # noqa: N802 — named after the ONVIF operation
        self, _el: ET.Element
    ) -> tuple[str, str]:
        out = []
        for ns, path, (major, minor) in (
            (NS["tds"], "device_service", (2, 5)),
            (NS["trt"], "media_service", (2, 5)),
            (NS["tptz"], "ptz_service", (2, 5)),
        ):
            out.append(
                f"<tds:Service><tds:Namespace>{ns}</tds:Namespace>"
                f"<tds:XAddr>{self.xaddr_base}/onvif/{path}</tds:XAddr>"
                f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version>"
                "</tds:Service>"
            )
        return "tds", "".join(out)

    def _op_GetCapabilities(  # noqa: N802 — named after the ONVIF operation
        self, _el: ET.Element
    ) -> tuple[str, str]:
        b = self.xaddr_base
        return "tds", (
            "<tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{b}/onvif/device_service</tt:XAddr></tt:Device>"
            f"<tt:Media><tt:XAddr>{b}/onvif/media_service</tt:XAddr>"
            "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
            "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
            "</tt:StreamingCapabilities></tt:Media>"
            f"<tt:PTZ><tt:XAddr>{b}/onvif/ptz_service</tt:XAddr></tt:PTZ>"
            "</tds:Capabilities>"
        )

    # ------------------------------------------------------------------ media

    def _op_GetProfiles(  # noqa: N802 — named after the ONVIF operation
        self, _el: ET.Element
    ) -> tuple[str, str]:
        return "trt", (
            f'<trt:Profiles token={quoteattr(self.profile_token)} fixed="true">'
            "<tt:Name>MainStream</tt:Name>"
            '<tt:PTZConfiguration token="ptz_config_1"><tt:Name>PTZ</tt:Name>'
            "<tt:UseCount>1</tt:UseCount><tt:NodeToken>ptz_node_1</tt:NodeToken>"
            f"<tt:DefaultPTZTimeout>PT{int(self.default_timeout_s)}S</tt:DefaultPTZTimeout>"
            "</tt:PTZConfiguration></trt:Profiles>"
            '<trt:Profiles token="profile_no_ptz" fixed="true"><tt:Name>SubStream</tt:Name>'
            "</trt:Profiles>"
        )

    # ------------------------------------------------------------------ PTZ

    def _op_GetPresets(  # noqa: N802 — named after the ONVIF operation
        self, el: ET.Element
    ) -> tuple[str, str]:
        self._profile(el)
        out = []
        for token, (name, pos) in self.presets.items():
            out.append(
                f"<tptz:Preset token={quoteattr(token)}><tt:Name>{escape(name)}</tt:Name>"
                f"<tt:PTZPosition>{_vector(pos)}</tt:PTZPosition></tptz:Preset>"
            )
        return "tptz", "".join(out)

    def _op_SetPreset(  # noqa: N802 — named after the ONVIF operation
        self, el: ET.Element
    ) -> tuple[str, str]:
        self._profile(el)
        if self.motion.moving():
            raise SoapFaultError("env:Receiver", ["ter:Action", "ter:MovingPTZ"], "PTZ is moving")
        name = el.findtext("tptz:PresetName", None, NS)
        token = el.findtext("tptz:PresetToken", None, NS)
        if token is not None and token not in self.presets:
            raise SoapFaultError(
                "env:Sender", ["ter:InvalidArgVal", "ter:NoToken"], "no such preset"
            )
        if token is None:
            if len(self.presets) >= self.max_presets:
                raise SoapFaultError("env:Receiver", ["ter:Action", "ter:TooManyPresets"], "full")
            token = self._new_token()
        if name is None:
            name = self.presets[token][0] if token in self.presets else token
        self.presets[token] = (name, self.motion.position())
        return "tptz", f"<tptz:PresetToken>{escape(token)}</tptz:PresetToken>"

    def _op_RemovePreset(  # noqa: N802 — named after the ONVIF operation
        self, el: ET.Element
    ) -> tuple[str, str]:
        self._profile(el)
        token = el.findtext("tptz:PresetToken", "", NS)
        if self.presets.pop(token, None) is None:
            raise SoapFaultError(
                "env:Sender", ["ter:InvalidArgVal", "ter:NoToken"], "no such preset"
            )
        return "tptz", ""

    def _op_GotoPreset(  # noqa: N802 — named after the ONVIF operation
        self, el: ET.Element
    ) -> tuple[str, str]:
        self._profile(el)
        token = el.findtext("tptz:PresetToken", "", NS)
        preset = self.presets.get(token)
        if preset is None:
            if self.faults.accept_unknown_preset:
                return "tptz", ""
            raise SoapFaultError(
                "env:Sender", ["ter:InvalidArgVal", "ter:NoToken"], "no such preset"
            )
        self.motion.move_to(preset[1])  # non-blocking: answers before the move ends
        return "tptz", ""

    def _op_AbsoluteMove(  # noqa: N802 — named after the ONVIF operation
        self, el: ET.Element
    ) -> tuple[str, str]:
        self._profile(el)
        pos = el.find("tptz:Position", NS)
        if pos is None:
            raise SoapFaultError(
                "env:Sender", ["ter:InvalidArgVal", "ter:InvalidPosition"], "no position"
            )
        pan, tilt, zoom = _read_vector(pos)
        for v, lo in ((pan, -1.0), (tilt, -1.0), (zoom, 0.0)):
            if v is not None and not lo <= v <= 1.0:
                raise SoapFaultError(
                    "env:Sender", ["ter:InvalidArgVal", "ter:InvalidPosition"], "out of range"
                )
        self.motion.move_to((pan, tilt, zoom))
        return "tptz", ""

    def _op_ContinuousMove(  # noqa: N802 — named after the ONVIF operation
        self, el: ET.Element
    ) -> tuple[str, str]:
        self._profile(el)
        vel = el.find("tptz:Velocity", NS)
        if vel is None:
            raise SoapFaultError(
                "env:Sender", ["ter:InvalidArgVal", "ter:InvalidVelocity"], "no velocity"
            )
        pan, tilt, zoom = _read_vector(vel)
        timeout = self.default_timeout_s
        text = el.findtext("tptz:Timeout", None, NS)
        if text is not None:
            m = _DURATION.match(text.strip())
            if m is None:
                raise SoapFaultError("env:Sender", ["ter:InvalidArgVal"], f"bad Timeout {text!r}")
            h, mi, s = m.groups()
            timeout = int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)
            if self.quirks and s is not None and "." in s:
                raise SoapFaultError(
                    "env:Sender",
                    ["ter:InvalidArgVal", "ter:TimeoutNotSupported"],
                    "fractional timeouts are not supported",
                )
        self.motion.drive((pan, tilt, zoom), timeout)
        return "tptz", ""

    def _op_Stop(  # noqa: N802 — named after the ONVIF operation
        self, el: ET.Element
    ) -> tuple[str, str]:
        self._profile(el)
        pan_tilt = el.findtext("tptz:PanTilt", "true", NS).strip() != "false"
        zoom = el.findtext("tptz:Zoom", "true", NS).strip() != "false"
        self.motion.stop(pan_tilt=pan_tilt, zoom=zoom)
        return "tptz", ""

    def _op_GetStatus(  # noqa: N802 — named after the ONVIF operation
        self, el: ET.Element
    ) -> tuple[str, str]:
        self._profile(el)
        pos = self.motion.position()
        if self.quirks:
            pt_state = z_state = "UNKNOWN"
        else:
            pt_state = "MOVING" if self.motion.moving(zoom=False) else "IDLE"
            z_state = "MOVING" if self.motion.moving(pan_tilt=False) else "IDLE"
        return "tptz", (
            f"<tptz:PTZStatus><tt:Position>{_vector(pos)}</tt:Position>"
            f"<tt:MoveStatus><tt:PanTilt>{pt_state}</tt:PanTilt><tt:Zoom>{z_state}</tt:Zoom></tt:MoveStatus>"
            f"<tt:UtcTime>{self.now().strftime('%Y-%m-%dT%H:%M:%SZ')}</tt:UtcTime></tptz:PTZStatus>"
        )

    def _new_token(self) -> str:
        while f"preset-{self._next_token}" in self.presets:
            self._next_token += 1
        return f"preset-{self._next_token}"

    def _profile(self, el: ET.Element) -> None:
        token = el.findtext("tptz:ProfileToken", "", NS)
        if token == "profile_no_ptz":
            raise SoapFaultError("env:Sender", ["ter:InvalidArgVal", "ter:NoPTZProfile"], "no PTZ")
        if token != self.profile_token:
            raise SoapFaultError(
                "env:Sender", ["ter:InvalidArgVal", "ter:NoProfile"], "no such profile"
            )


def _envelope(body: str, status: int) -> web.Response:
    ns = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items() if k not in ("wsse", "wsu"))
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope {ns}><env:Body>{body}</env:Body></env:Envelope>'
    return web.Response(
        status=status, body=xml.encode(), content_type="application/soap+xml", charset="utf-8"
    )


def _fault(fault: SoapFaultError) -> web.Response:
    sub = ""
    for code in reversed(fault.subcodes):
        sub = f"<env:Subcode><env:Value>{code}</env:Value>{sub}</env:Subcode>"
    body = (
        f"<env:Fault><env:Code><env:Value>{fault.code}</env:Value>{sub}</env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(fault.reason)}</env:Text></env:Reason>'
        "</env:Fault>"
    )
    return _envelope(body, fault.status)


def _datetime(when: dt.datetime) -> str:
    return (
        f"<tt:Time><tt:Hour>{when.hour}</tt:Hour><tt:Minute>{when.minute}</tt:Minute>"
        f"<tt:Second>{when.second}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{when.year}</tt:Year><tt:Month>{when.month}</tt:Month>"
        f"<tt:Day>{when.day}</tt:Day></tt:Date>"
    )


def _vector(pos: tuple[float, float, float]) -> str:
    pan, tilt, zoom = pos
    return (
        f'<tt:PanTilt x="{pan:.6f}" y="{tilt:.6f}" space="{PAN_TILT_POS}"/>'
        f'<tt:Zoom x="{zoom:.6f}" space="{ZOOM_POS}"/>'
    )


def _read_vector(el: ET.Element) -> tuple[float | None, float | None, float | None]:
    pt = el.find("tt:PanTilt", NS)
    z = el.find("tt:Zoom", NS)
    try:
        pan = float(pt.get("x", "0")) if pt is not None else None
        tilt = float(pt.get("y", "0")) if pt is not None else None
        zoom = float(z.get("x", "0")) if z is not None else None
    except ValueError:
        raise SoapFaultError("env:Sender", ["ter:InvalidArgVal"], "not a number") from None
    return pan, tilt, zoom
