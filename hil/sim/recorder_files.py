"""The simulated recorder's storage: while its call is up, it writes a growing MPEG-TS file.

A real recorder (a codec or a recording server the MCU dials) writes one file per call into
a share the control PC mounts. This writer does the same into a local directory: a new file
when the call connects, `chunk_bytes` more every `interval_s` while it stays up, the file
closed when the call ends. `stall()` (or `stall_after_s`) stops the writing while the call
stays up — the failure the daemon's recording check must catch.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("mcu_control.rig.recorder")

# MPEG-TS null packets (ISO/IEC 13818-1: sync byte 0x47, PID 0x1FFF, payload only): a valid
# transport stream of the right shape without claiming any media in it
_NULL_PACKET = bytes([0x47, 0x1F, 0xFF, 0x10]) + b"\xff" * 184


class RecordingWriter:
    """Writes `<prefix><UTC time><suffix>` files in `directory` while `connected()` is true."""

    def __init__(
        self,
        directory: Path,
        connected: Callable[[], bool],
        *,
        prefix: str = "ghi-hinh-",
        suffix: str = ".ts",
        interval_s: float = 0.2,
        chunk_bytes: int = 188 * 64,
        stall_after_s: float | None = None,
    ) -> None:
        self.directory = directory
        self.connected = connected
        self.prefix = prefix
        self.suffix = suffix
        self.interval_s = interval_s
        self.packets = max(1, chunk_bytes // len(_NULL_PACKET))
        self.stall_after_s = stall_after_s
        self.stalled = False
        self.files: list[Path] = []
        self.current: Path | None = None
        self._written_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._run(), name="sim-recorder-files")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.current = None

    def stall(self, stalled: bool = True) -> None:
        """Stop (or resume) writing while the call stays up."""
        self.stalled = stalled

    async def _run(self) -> None:
        while True:
            try:
                self.tick()
            except OSError as exc:
                log.warning("simulated recorder cannot write in %s: %s", self.directory, exc)
            await asyncio.sleep(self.interval_s)

    def tick(self) -> None:
        """One step: open, grow or close the current file according to the call."""
        if not self.connected():
            self.current = None
            self._written_s = 0.0
            return
        if self.current is None:
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
            self.current = self.directory / f"{self.prefix}{stamp}{self.suffix}"
            self.files.append(self.current)
            log.info("simulated recorder: new file %s", self.current)
        if self.stall_after_s is not None and self._written_s >= self.stall_after_s:
            self.stalled = True
        if self.stalled:
            return
        with self.current.open("ab") as fh:
            fh.write(_NULL_PACKET * self.packets)
        self._written_s += self.interval_s
