"""Audio DSPs over SNMP: health from standard MIBs, control where the model exports OIDs."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any, Literal

from devices.errors import (
    DeviceError,
    InvalidParameterError,
    NotFoundError,
    NotSupportedError,
)
from devices.health import Health
from devices.interfaces import (
    AudioMixer,
    Capability,
    ChannelState,
    ConnectionState,
    DeviceInfo,
    LevelRange,
)
from devices.memory import MEMORY, DeviceMemory, Uptime
from devices.secrets import Secret
from drivers.snmp import oids as mib
from drivers.snmp.client import SnmpClient
from drivers.snmp.oids import Reading

#: OIDs per GET when reading many channels (replies stay far below a datagram's ~1.4 kB)
GET_BATCH = 20


class SnmpMixer(AudioMixer):
    """A DSP reached by SNMP v2c/v3; `oids` is the model's table (mute, level, meter, snapshot…)."""

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
        channels: Mapping[str, int],
        oids: Mapping[str, Any],
        level_range: tuple[float, float] = (-100.0, 12.0),
        manufacturer: str = "",
        model: str = "",
        memory: DeviceMemory | None = None,
    ) -> None:
        super().__init__(name)
        self.client = SnmpClient(
            name,
            host=host,
            port=port,
            version=version,
            community=community,
            user=user,
            auth_key=auth_key,
            priv_key=priv_key,
            auth_protocol=auth_protocol,
            priv_protocol=priv_protocol,
            context=context,
            timeout_s=timeout_s,
            retries=retries,
        )
        self.channels = dict(channels)
        self.oids = dict(oids)
        self.range = LevelRange(*level_range)
        self.manufacturer = manufacturer
        self.model = model
        self.interfaces = [int(i) for i in self.oids.get("interfaces") or []]
        self.sensors = [int(i) for i in self.oids.get("sensors") or []]
        self.mute_on = int(self.oids.get("mute_on", 1))
        self.mute_off = int(self.oids.get("mute_off", 2))
        self.level_scale = float(self.oids.get("level_scale", 1.0))
        caps = set()
        if self.oids.get("level"):
            caps.add(Capability.MIXER_LEVEL)
        if self.oids.get("meter"):
            caps.add(Capability.MIXER_METERS)
        if self.oids.get("snapshot"):
            caps.add(Capability.MIXER_SNAPSHOT)
        self.capabilities = frozenset(caps)
        #: survives this instance: a reboot during an outage is seen by the next driver
        self.memory = memory if memory is not None else MEMORY.for_device(name, host, port)
        self._log = logging.getLogger(f"mcu_control.device.{name}")
        #: sysDescr and sensor metadata from this connection's last full health reading
        self._health_meta: dict[str, Reading] | None = None

    async def connect(self) -> None:
        """Prepare the SNMP engine (no packet is sent: SNMP is connectionless)."""
        await self.client.open()
        self.state = ConnectionState.CONNECTED

    async def close(self) -> None:
        await self.client.close()
        self._health_meta = None
        self.state = ConnectionState.CLOSED

    async def identify(self) -> DeviceInfo:
        fw_oid = str(self.oids["firmware"]) if self.oids.get("firmware") else None
        wanted = [mib.SYS_DESCR, mib.SYS_NAME, mib.SYS_OBJECT_ID]
        values = await self.client.get([*wanted, fw_oid] if fw_oid else wanted)
        descr = values.get(mib.SYS_DESCR)
        extra = {
            k: str(values[oid])
            for k, oid in (
                ("sys_descr", mib.SYS_DESCR),
                ("sys_name", mib.SYS_NAME),
                ("sys_object_id", mib.SYS_OBJECT_ID),
            )
            if values.get(oid) is not None
        }
        firmware = values.get(fw_oid) if fw_oid else None
        return DeviceInfo(
            self.manufacturer,
            self.model,
            str(firmware) if firmware is not None else str(descr or ""),
            extra=extra,
        )

    async def health(self) -> Health:
        """Uptime, interfaces and sensors in one GET; constant metadata once per connection.

        sysDescr and the sensors' scale, precision and units are read at the first reading,
        again after a reboot (new firmware may change them) and when an answer lacks sysUpTime;
        the other readings ask only for what changes (less than half the varbinds to decode).
        """
        meta = self._health_meta
        values = await self.client.get(
            mib.health_oids(self.interfaces, self.sensors, metadata=meta is None)
        )
        if meta is not None:
            if values.get(mib.SYS_UPTIME) is None:  # judge the system group on a full reading
                self._health_meta = None
                return await self.health()
            values = {**values, **meta}
        if values.get(mib.SYS_UPTIME) is None and values.get(mib.SYS_DESCR) is None:
            return Health.degraded("agent answers but has no system group")
        now = time.monotonic()
        last = self.memory.last_uptime

        def evaluate() -> Health:
            return mib.evaluate(
                values,
                interfaces=self.interfaces,
                sensors=self.sensors,
                previous_uptime=last.centiseconds if last else None,
                elapsed_s=now - last.read_at if last else 0.0,
            )

        reading = evaluate()
        if meta is not None and reading.details.get("rebooted") is True:
            values |= await self.client.get(list(meta))  # new firmware may say otherwise
            reading = evaluate()
        uptime = values.get(mib.SYS_UPTIME)
        if isinstance(uptime, int):
            self.memory.last_uptime = Uptime(uptime, now)
        self._health_meta = mib.metadata_of(values, self.sensors)
        return reading

    async def get_mute(self, channel: str) -> bool:
        return self._muted(channel, await self._read_int("mute", channel))

    async def channel_states(self, channels: list[str]) -> list[ChannelState]:
        """Mute and level of the channels in one GET per `GET_BATCH` OIDs, not two per channel.

        A health read asks this every 15 s; each GET is ~1–2 ms of CPU (BER, the engine).
        """
        mutes = {ch: self._oid("mute", ch) for ch in channels}
        levels = {ch: self._oid("level", ch) for ch in channels} if self.oids.get("level") else {}
        oids = list(dict.fromkeys([*mutes.values(), *levels.values()]))
        values: dict[str, tuple[Reading, str]] = {}
        for i in range(0, len(oids), GET_BATCH):  # a reply must fit one UDP datagram
            values |= await self.client.get_typed(oids[i : i + GET_BATCH])

        def read(oid: str, what: str) -> int:
            return self._integer(oid, what, values.get(oid, (None, "")))[0]

        return [
            ChannelState(
                ch,
                self._muted(ch, read(mutes[ch], f"mute of {ch}")),
                read(levels[ch], f"level of {ch}") / self.level_scale if levels else None,
            )
            for ch in channels
        ]

    def _muted(self, channel: str, raw: int) -> bool:
        if raw == self.mute_on:
            return True
        if raw == self.mute_off:
            return False
        raise DeviceError(
            f"mute of {channel} reads {raw}, neither on ({self.mute_on}) nor off ({self.mute_off})",
            device=self.name,
            code="badValue",
            hint="check mute_on/mute_off in the model file",
        )

    async def set_mute(self, channel: str, muted: bool) -> None:
        await self.client.set(self._oid("mute", channel), self.mute_on if muted else self.mute_off)

    async def get_level(self, channel: str) -> float:
        return await self._read_int("level", channel) / self.level_scale

    async def set_level(self, channel: str, level_db: float) -> None:
        if not math.isfinite(level_db) or not self.range.min_db <= level_db <= self.range.max_db:
            raise InvalidParameterError(
                f"level {level_db:g} dB is outside {self.range.min_db:g}…{self.range.max_db:g} dB",
                device=self.name,
                code="wrongValue",
            )
        await self.client.set(self._oid("level", channel), round(level_db * self.level_scale))

    async def level_range(self, channel: str) -> LevelRange:
        self._oid("level", channel)
        return self.range

    async def meters(self, channels: list[str] | None = None) -> dict[str, float]:
        names = channels if channels is not None else list(self.channels)
        oid_of = {ch: self._oid("meter", ch) for ch in names}
        values = await self.client.get_typed(list(oid_of.values()))
        return {
            ch: self._integer(oid, ch, values.get(oid, (None, "")))[0] / self.level_scale
            for ch, oid in oid_of.items()
        }

    async def recall_snapshot(self, snapshot: int) -> None:
        oid = self.oids.get("snapshot")
        if not oid:
            raise self._unsupported("snapshot recall")
        await self.client.set(mib.check(str(oid)), int(snapshot))

    async def active_snapshot(self) -> int:
        """The snapshot the device reports as active (Q-SYS ssActiveSnapshot)."""
        oid = self.oids.get("snapshot")
        if not oid:
            raise self._unsupported("snapshot recall")
        answer = (await self.client.get_typed([str(oid)])).get(str(oid), (None, ""))
        return self._integer(str(oid), "snapshot", answer)[0]

    async def _read_int(self, kind: str, channel: str) -> int:
        oid = self._oid(kind, channel)
        answer = (await self.client.get_typed([oid])).get(oid, (None, ""))
        return self._integer(oid, f"{kind} of {channel}", answer)[0]

    def _integer(self, oid: str, what: str, answer: tuple[Reading, str]) -> tuple[int, str]:
        """The INTEGER an OID holds; missing → noSuchInstance, another type → wrongType."""
        value, asn1_type = answer
        if value is None:
            raise self._missing(oid, what)
        if not isinstance(value, int):
            raise InvalidParameterError(
                f"{oid} ({what}) holds a {asn1_type} ({value!r}), not an INTEGER",
                device=self.name,
                code="wrongType",
                hint="the model's OID points at another object on this device; "
                "check the model file against the device's MIB",
            )
        return value, asn1_type

    def _oid(self, kind: str, channel: str) -> str:
        template = self.oids.get(kind)
        if not template:
            raise self._unsupported(f"{kind} over SNMP (the model exports no {kind} OID)")
        if channel not in self.channels:
            known = ", ".join(sorted(self.channels))
            raise NotSupportedError(
                f"no channel named {channel!r} (known: {known})", device=self.name
            )
        return mib.expand(str(template), self.channels[channel])

    def _missing(self, oid: str, what: str) -> DeviceError:
        return NotFoundError(
            f"{oid} ({what}) does not exist on the agent (noSuchInstance)",
            device=self.name,
            code="noSuchInstance",
            hint="the model's OID does not match this device's SNMP export",
        )
