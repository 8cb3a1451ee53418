"""The MQTT status feed: publishes the state store for room panels and Home Assistant.

Threading: paho runs its network loop in its own thread (`loop_start`; idle, it wakes every
`IDLE_WAKE_S` rather than paho's 1 s: `_Client`). That thread does the
blocking parts (DNS, TCP connect, TLS handshake, reconnect backoff), so nothing here can stall
the daemon's event loop, and paho's own reconnect logic is reused rather than re-implemented
on `add_reader`. The hand-offs are one-way and thread-safe: paho callbacks only call
`loop.call_soon_threadsafe`, and the event loop only calls paho's `publish`/`subscribe`,
which paho documents as safe from other threads (they take its locks and wake its loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import socket
import ssl
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.errors import ConfigError, McuControlError
from mcu_control.mqtt import payloads as pl
from mcu_control.mqtt.actions import BadParamsError, validate_params
from mcu_control.mqtt.commands import (
    CommandRouter,
    MalformedCommandError,
    device_error_reply,
    error_reply,
    ok_reply,
    parse_request,
    response_topic_allowed,
)
from mcu_control.mqtt.config import Connection, connection_for, resolve_url
from mcu_control.mqtt.homeassistant import HA_STATUS_TOPIC, discovery_messages
from mcu_control.state import Change
from mcu_control.ticks import sleep_to_tick

if TYPE_CHECKING:
    from mcu_control.audit import AuditLog
    from mcu_control.state import StateStore
    from profiles.loader import LoadedProfile

log = logging.getLogger("mcu_control.mqtt")

QOS_STATE = 1
PENDING_EVENTS_MAX = 1000
STOP_TIMEOUT_S = 3.0
#: how often paho's network thread wakes when there is no traffic (keep-alive checks)
IDLE_WAKE_S = 5.0
REFUSAL_SUMMARY_DELAY_S = 2.0  # refusals of one republish arrive within this; then one line


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class RejectedPublish:
    """A publish the broker refused (MQTT 5 PUBACK reason >= 0x80, e.g. 135 not authorised)."""

    topic: str
    reason_code: int
    reason: str


class MqttFeed:
    """Publish a StateStore to an MQTT broker; optionally take commands from it."""

    def __init__(
        self,
        loaded: LoadedProfile,
        store: StateStore,
        *,
        url: str | None = None,
        audit: AuditLog | None = None,
        commands: CommandRouter | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        protocol: Literal["5", "3.1.1"] | None = None,
        commands_refused: str | None = None,
    ) -> None:
        """`url` overrides the profile (see resolve_url); `protocol` forces one (embedded broker).

        `commands_refused` (a reason) answers every command with `not-allowed` and that reason,
        whatever the profile enables: the embedded broker has no authentication.
        """
        self._commands_refused = commands_refused
        self._store = store
        self._audit = audit
        self._router: CommandRouter = commands or {}
        self._clock = clock or _utcnow
        self._url_override = url
        self._protocol_override = protocol
        self._configure(loaded)
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Change] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._command_tasks: set[asyncio.Task[None]] = set()
        self._pending_events: deque[tuple[str, bytes]] = deque(maxlen=PENDING_EVENTS_MAX)
        self._in_flight: dict[int, str] = {}
        self._acks: dict[int, asyncio.Future[int]] = {}
        self._connected = asyncio.Event()
        self._stopping = False
        self._last_recording = store.session.recording
        self._last_point: dict[str, bytes] = {}  # last point payload published, per point
        self.rejected: list[RejectedPublish] = []
        self._refused: Counter[str] = Counter()  # topic group -> refusals since the last summary
        self._refused_reason = ""
        self._refusal_summary: asyncio.TimerHandle | None = None
        self.connects = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ public API

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def topics(self) -> pl.Topics:
        return self._topics

    async def start(self) -> None:
        """Start connecting in the background and publishing changes; returns at once."""
        if self._client is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._queue = self._store.subscribe()
        self._client = self._make_client(self._conn)
        self._spawn(self._consume(), "mqtt-consume")
        self._spawn(self._heartbeat(), "mqtt-heartbeat")
        log.info("MQTT feed connecting to %s (MQTT %s)", self._conn.url, self._conn.protocol)
        if self._commands_refused and self._commands_enabled:
            log.error("mqtt.commands.enabled is ignored: %s", self._commands_refused)
        self._client.connect_async(
            self._conn.url.host,
            self._conn.url.port,
            keepalive=self._conn.keepalive_s,
            clean_start=True if self._conn.protocol == "5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
        )
        self._client.loop_start()

    async def wait_connected(self) -> None:
        """Wait until the broker accepted the connection (wrap in asyncio.timeout)."""
        await self._connected.wait()

    async def stop(self) -> None:
        """Publish `offline` (retained), disconnect cleanly, stop paho's thread."""
        client = self._client
        if client is None:
            return
        self._stopping = True
        for task in [*self._tasks, *self._command_tasks]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._command_tasks, return_exceptions=True)
        self._tasks.clear()
        self._command_tasks.clear()
        if self._queue is not None:
            self._store.unsubscribe(self._queue)
            self._queue = None
        if self.connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await self._publish_acked(self._topics.status, pl.OFFLINE.encode())
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        if self._refusal_summary is not None:  # say it now rather than lose it
            self._refusal_summary.cancel()
            self._log_refusals()
        self._client = None
        self._stopping = False
        self._connected.clear()
        for fut in self._acks.values():
            fut.cancel()
        self._acks.clear()
        log.info("MQTT feed stopped")

    async def reload(self, loaded: LoadedProfile) -> None:
        """Apply a new profile: reconnect if the broker settings changed, then republish."""
        old_conn, old_topics, old_ha = self._conn, self._topics, self._ha_topics()
        old_points = set(self._point_ids)
        self._configure(loaded)
        if self._client is None:
            return
        if self._conn != old_conn or self._topics != old_topics:
            await self.stop()
            await self.start()
            return
        if self.connected:
            for topic in old_ha - self._ha_topics():
                self._publish(topic, b"", retain=True)  # an empty retained payload deletes it
            for point_id in old_points - self._point_ids:
                self._publish(self._topics.point(point_id), b"", retain=True)
            for device in self._store.devices.values():
                if device.point in old_points - self._point_ids:
                    self._publish(self._topics.device(device.id), b"", retain=True)
            self._subscribe_all()
            self._republish_all()

    # ------------------------------------------------------------------ configuration

    def _configure(self, loaded: LoadedProfile) -> None:
        self._loaded = loaded
        cfg = loaded.profile.mqtt
        self._site = loaded.profile.site.id
        self._point_ids = frozenset(p.id for p in loaded.profile.points)
        try:
            prefix = pl.check_prefix(cfg.prefix or pl.default_prefix(self._site))
        except ValueError as exc:
            raise ConfigError(str(exc), hint="fix mqtt.prefix in the profile") from None
        self._topics = pl.Topics(prefix)
        url = resolve_url(cfg.url, self._url_override)
        if url is None:
            raise ConfigError(
                "no MQTT broker configured",
                hint="set mqtt.url in the profile, --mqtt-url or MCU_CONTROL_MQTT_URL, "
                "or use the embedded demo broker",
            )
        self._conn = connection_for(loaded, url, force_protocol=self._protocol_override)
        self._heartbeat_s = cfg.heartbeat_s
        self._reconnect_max_s = cfg.reconnect_max_s
        self._ha = cfg.homeassistant
        self._commands_enabled = cfg.commands.enabled
        self._allowed = set(cfg.commands.allow)
        self._command_timeout = cfg.commands.timeout_s

    def _make_client(self, conn: Connection) -> mqtt.Client:
        v5 = conn.protocol == "5"
        client_id = f"mcu-control-{self._site}-{socket.gethostname()}-{os.getpid()}"[:64]
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            transport=conn.url.transport,
            clean_session=None if v5 else True,
        )
        if conn.url.transport == "websockets":
            client.ws_set_options(path=conn.url.path)
        if conn.url.tls:
            client.tls_set_context(self._tls_context(conn))
        if conn.username is not None:
            secret = conn.password.reveal() if conn.password is not None else None
            client.username_pw_set(conn.username, secret)
        client.idle_wake_s = min(IDLE_WAKE_S, conn.keepalive_s / 4)
        client.will_set(self._topics.status, pl.OFFLINE, qos=QOS_STATE, retain=True)
        client.reconnect_delay_set(1, self._reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    @staticmethod
    def _tls_context(conn: Connection) -> ssl.SSLContext:
        try:
            ctx = ssl.create_default_context(cafile=str(conn.ca_file) if conn.ca_file else None)
            if conn.client_cert is not None and conn.client_key is not None:
                ctx.load_cert_chain(str(conn.client_cert), str(conn.client_key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the MQTT TLS files: {exc}",
                hint="check mqtt.ca_file, mqtt.client_cert and mqtt.client_key",
            ) from None
        return ctx

    # ------------------------------------------------------------------ paho thread -> loop

    def _to_loop(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while paho was finishing
            loop.call_soon_threadsafe(fn, *args)

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Properties | None
    ) -> None:
        if not reason.is_failure:
            _drop_unsent(client)
        self._to_loop(self._handle_connect, bool(reason.is_failure), str(reason))

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Properties | None
    ) -> None:
        self._to_loop(self._handle_disconnect, str(reason))

    def _on_publish(
        self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Properties | None
    ) -> None:
        self._to_loop(self._handle_ack, mid, int(reason.value), str(reason))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        props = msg.properties
        response_topic = getattr(props, "ResponseTopic", None) if props else None
        correlation = getattr(props, "CorrelationData", None) if props else None
        self._to_loop(
            self._handle_message, msg.topic, bytes(msg.payload), response_topic, correlation
        )

    # ------------------------------------------------------------------ loop side

    def _handle_connect(self, failed: bool, reason: str) -> None:
        if self._client is None:
            return
        if failed:
            self.last_error = reason
            log.error(
                "MQTT broker %s refused the connection: %s — check mqtt.username/password "
                "and the broker's ACL",
                self._conn.url,
                reason,
            )
            return
        self.connects += 1
        self.last_error = None
        log.info("MQTT feed connected to %s", self._conn.url)
        self._connected.set()
        self._subscribe_all()  # before `online`: a panel that sees online may send a command
        self._publish(self._topics.status, pl.ONLINE.encode(), retain=True)
        self._republish_all()
        while self._pending_events:
            topic, data = self._pending_events.popleft()
            self._publish(topic, data, retain=False)

    def _handle_disconnect(self, reason: str) -> None:
        if self._connected.is_set() and not self._stopping:
            log.warning("MQTT broker %s lost (%s); reconnecting", self._conn.url, reason)
        self._connected.clear()

    def _handle_ack(self, mid: int, code: int, reason: str) -> None:
        topic = self._in_flight.pop(mid, "?")
        fut = self._acks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(code)
        if code >= 0x80:
            self.rejected.append(RejectedPublish(topic, code, reason))
            del self.rejected[:-100]
            log.debug("MQTT broker refused the publish to %s: %s (%d)", topic, reason, code)
            # one summary line per burst (a reconnect republishes everything: an ACL without
            # homeassistant/# refuses 36 discovery configs at once), not one line per topic
            self._refused[self._topic_group(topic)] += 1
            self._refused_reason = f"{reason} ({code})"
            if self._refusal_summary is None and self._loop is not None:
                self._refusal_summary = self._loop.call_later(
                    REFUSAL_SUMMARY_DELAY_S, self._log_refusals
                )

    def _topic_group(self, topic: str) -> str:
        """'homeassistant/#', '<prefix>/device/#', … — how refusals are counted in the log."""
        if topic.startswith("homeassistant/"):
            return "homeassistant/#"
        head = self._topics.prefix + "/"
        if topic.startswith(head):
            return head + topic[len(head) :].split("/", 1)[0] + "/#"
        return topic

    def _log_refusals(self) -> None:
        """Log the refusals counted since the last summary, in one line."""
        self._refusal_summary = None
        groups, self._refused = self._refused, Counter()
        if not groups:
            return
        hint = "check the broker's ACL for the daemon's account"
        if "homeassistant/#" in groups:
            hint += (
                "; Home Assistant discovery needs write access to homeassistant/# "
                "(or set mqtt.homeassistant: false)"
            )
        log.warning(
            "MQTT broker %s refused %d publishes (%s): %s — %s",
            self._conn.url,
            sum(groups.values()),
            self._refused_reason,
            ", ".join(f"{group} ×{n}" for group, n in groups.most_common()),
            hint,
        )

    def _handle_message(
        self, topic: str, payload: bytes, response_topic: str | None, correlation: bytes | None
    ) -> None:
        if topic == HA_STATUS_TOPIC:
            if self._ha and payload.strip() == pl.ONLINE.encode():
                log.info("Home Assistant came online; announcing discovery again")
                self._announce_ha()
            return
        action = self._topics.action_of(topic)
        if action is None or not (self._commands_enabled or self._commands_refused):
            return
        task = asyncio.get_running_loop().create_task(
            self._run_command(action, payload, response_topic, correlation),
            name=f"mqtt-cmd-{action}",
        )
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    def _publish(
        self,
        topic: str,
        data: bytes,
        *,
        retain: bool,
        qos: int = QOS_STATE,
        properties: Properties | None = None,
    ) -> int | None:
        """Hand one message to paho; events wait in a bounded queue while disconnected."""
        client = self._client
        if client is None:
            return None
        if not self.connected:
            if not retain:
                self._pending_events.append((topic, data))
            return None  # retained state is republished from the store on reconnect
        info = client.publish(topic, data, qos=qos, retain=retain, properties=properties)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("MQTT publish to %s failed: %s", topic, mqtt.error_string(info.rc))
            return None
        self._in_flight[info.mid] = topic
        if len(self._in_flight) > 10_000:  # QoS 0 or lost acks must not grow this forever
            self._in_flight.pop(next(iter(self._in_flight)))
        return info.mid

    async def _publish_acked(self, topic: str, data: bytes) -> int:
        """Publish retained at QoS 1 and wait for the broker's PUBACK reason code."""
        assert self._loop is not None
        fut: asyncio.Future[int] = self._loop.create_future()
        mid = self._publish(topic, data, retain=True)
        if mid is None:
            raise TimeoutError("not connected")
        self._acks[mid] = fut
        return await fut

    def _subscribe_all(self) -> None:
        assert self._client is not None
        if self._commands_enabled or self._commands_refused:
            self._client.subscribe(self._topics.commands, qos=1)
        if self._ha:
            self._client.subscribe(HA_STATUS_TOPIC, qos=1)

    def _republish_all(self) -> None:
        """Every retained topic from the store's current state (after every (re)connect)."""
        store, site, known = self._store, self._site, self._point_ids
        for point in store.points.values():
            if point.id not in known:
                continue
            self._publish_point(point.id)
        for device in store.devices.values():
            if device.point not in known:
                continue
            self._publish(
                self._topics.device(device.id),
                pl.encode(pl.device_payload(site, device)),
                retain=True,
            )
        self._publish_session()
        self._publish(
            self._topics.drill,
            pl.encode(pl.drill_payload(site, store.last_drill, self._clock())),
            retain=True,
        )
        if self._ha:
            self._announce_ha()

    def _publish_point(self, point_id: str, *, only_if_changed: bool = False) -> None:
        """A point's retained state; with `only_if_changed`, only if its payload differs."""
        store = self._store
        point = store.points.get(point_id)
        if point is None or point_id not in self._point_ids:
            return
        devices = [d for d in store.devices.values() if d.point == point_id]
        data = pl.encode(pl.point_payload(self._site, point, store.session, devices))
        if only_if_changed and self._last_point.get(point_id) == data:
            return
        self._last_point[point_id] = data
        self._publish(self._topics.point(point_id), data, retain=True)

    def _publish_session(self) -> None:
        profile = self._loaded.profile
        payload = pl.session_payload(
            self._site,
            self._store.session,
            self._clock(),
            site_name=profile.site.name,
            all_points=tuple(p.id for p in profile.points),
        )
        self._publish(self._topics.session, pl.encode(payload), retain=True)

    def _announce_ha(self) -> None:
        for topic, config in discovery_messages(self._loaded.profile, self._topics):
            self._publish(topic, pl.encode(config), retain=True)

    def _ha_topics(self) -> set[str]:
        if not self._ha:
            return set()
        return {t for t, _ in discovery_messages(self._loaded.profile, self._topics)}

    async def _consume(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            change = await queue.get()
            try:
                self._apply(change)
            except Exception:  # a bad record must not end the feed
                log.exception("MQTT feed could not publish a %s change", change.kind)

    def _apply(self, change: Change) -> None:
        store, site = self._store, self._site
        if change.kind == "point":
            self._publish_point(change.key)
        elif change.kind == "device":
            device = store.devices.get(change.key)
            if device is not None:
                self._publish(
                    self._topics.device(device.id),
                    pl.encode(pl.device_payload(site, device)),
                    retain=True,
                )
                if device.point in store.points:  # its room message may read this device
                    self._publish_point(device.point, only_if_changed=True)
        elif change.kind == "session":
            self._publish_session()
            if store.session.recording != self._last_recording:
                self._last_recording = store.session.recording
                for point in store.points.values():
                    if point.recording is None:  # its panel shows the session's recording
                        self._apply(Change("point", point.id, {}))
        elif change.kind == "drill":
            payload = pl.drill_payload(site, change.payload, self._clock())
            self._publish(self._topics.drill, pl.encode(payload), retain=True)
        else:
            payload = pl.event_payload(site, change.payload)
            self._publish(self._topics.events, pl.encode(payload), retain=False)

    async def _heartbeat(self) -> None:
        while True:
            await sleep_to_tick(self._heartbeat_s)
            if self.connected:
                self._publish(self._topics.status, pl.ONLINE.encode(), retain=True)
                self._publish_session()  # refreshes countdown_s

    async def _run_command(
        self, action: str, payload: bytes, response_topic: str | None, correlation: bytes | None
    ) -> None:
        request_id: str | None = None
        params: dict[str, Any] = {}
        try:
            request = parse_request(payload)
            request_id, params = request.id, request.params
            if self._commands_refused is not None:
                log.warning("MQTT command %r refused: %s", action, self._commands_refused)
                reply = error_reply(request_id, "not-allowed", self._commands_refused)
            elif action not in self._allowed:
                reply = error_reply(
                    request_id, "not-allowed", f"action {action!r} is not on mqtt.commands.allow"
                )
            elif action not in self._router:
                reply = error_reply(
                    request_id, "unavailable", f"action {action!r} is not wired in this daemon"
                )
            else:
                try:
                    checked = self._checked_params(action, params)
                except BadParamsError as exc:
                    reply = error_reply(request_id, "bad-params", str(exc))
                else:
                    reply = await self._execute(action, request_id, checked)
        except MalformedCommandError as exc:
            request_id = exc.request_id
            reply = error_reply(request_id, "malformed", str(exc))
        self._reply(action, reply, response_topic, correlation)
        self._store.event("command", action=action, id=request_id, ok=reply["ok"], source="mqtt")
        if self._audit is not None:
            outcome = "ok" if reply["ok"] else reply["error"]["code"]
            error = None if reply["ok"] else reply["error"]["message"]
            await asyncio.to_thread(
                self._audit.append,
                f"mqtt.command.{action}",
                actor="mqtt",
                target=action,
                id=request_id,
                params=params,
                outcome=outcome,
                error=error,
            )

    async def _execute(
        self, action: str, request_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        handler = self._router[action]
        log.info("MQTT command %s (id %s) running", action, request_id)
        deadline = asyncio.timeout(self._command_timeout)
        try:
            async with deadline:
                result = await handler(params)
        except McuControlError as exc:  # first: a DeviceTimeoutError is also a TimeoutError
            return device_error_reply(request_id, exc)
        except TimeoutError as exc:
            if deadline.expired():  # only the command's own deadline is a command timeout
                return error_reply(
                    request_id, "timeout", f"{action} did not finish in {self._command_timeout} s"
                )
            log.warning("MQTT command %s (id %s): unmapped timeout: %s", action, request_id, exc)
            return error_reply(request_id, "failed", "a device did not answer in time")
        except ValueError as exc:  # the handler's own check, worded for the requester
            return error_reply(request_id, "bad-params", str(exc))
        except Exception:  # KeyError, TypeError … past the schema: a bug, not the requester's
            log.exception("MQTT command %s (id %s) crashed", action, request_id)
            return error_reply(
                request_id,
                "internal",
                f"{action} failed because of an internal error; the daemon's log has the details",
            )
        if not isinstance(result, dict):
            result = {"value": result}
        return ok_reply(request_id, json.loads(json.dumps(result, default=str)))

    def _checked_params(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Params valid for the action's schema and naming this site's points (BadParamsError)."""
        checked = validate_params(action, params)
        named = checked.get("points", [])
        named = [named] if isinstance(named, str) else list(named)
        if "point" in checked:
            named.append(checked["point"])
        unknown = [p for p in named if p not in self._point_ids]
        if unknown:
            raise BadParamsError(
                f"unknown point {', '.join(unknown)}; this site's points: "
                + ", ".join(sorted(self._point_ids))
            )
        return checked

    def _reply(
        self,
        action: str,
        reply: dict[str, Any],
        response_topic: str | None,
        correlation: bytes | None,
    ) -> None:
        topic = self._topics.reply(action)
        if response_topic and response_topic_allowed(response_topic, self._topics.prefix):
            topic = response_topic
        props: Properties | None = None
        if self._conn.protocol == "5" and correlation is not None:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.CorrelationData = correlation
        self._publish(topic, pl.encode(reply), retain=False, properties=props)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)


class _Client(mqtt.Client):
    """paho's client, its network thread waking every `idle_wake_s` when nothing happens.

    `loop_start()` runs `loop_forever(timeout=1.0)`: the thread's select returns every second
    to check keep-alive, and takes the GIL from the event loop to do so — an idle daemon's most
    frequent wake-up. Traffic, `publish` and `disconnect` wake the select at once whatever the
    timeout (paho's socket pair), so a longer one only spaces the keep-alive checks; it stays
    well under the keep-alive (a quarter of it).
    """

    idle_wake_s = 1.0

    def _thread_main(self) -> None:  # paho's own, with the timeout
        try:
            self.loop_forever(timeout=self.idle_wake_s, retry_first_connection=True)
        finally:
            self._thread = None


def _drop_unsent(client: mqtt.Client) -> None:
    """Forget messages paho kept from the previous connection.

    paho re-sends them right after on_connect, i.e. after (or interleaved with) our full
    republish from the store, so a stale retained state could overwrite a fresh one. The
    republish makes them redundant; paho 2 has no public call for this, hence the guard.
    """
    lock = getattr(client, "_out_message_mutex", None)
    messages = getattr(client, "_out_messages", None)
    if lock is None or messages is None:
        return
    with lock:
        messages.clear()
        client._inflight_messages = 0
