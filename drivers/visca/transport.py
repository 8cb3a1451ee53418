"""What both VISCA transports (serial and IP) offer the driver, and their shared error mapping."""

from __future__ import annotations

import abc
import logging

from devices.errors import DeviceBusyError, DeviceError, DeviceTimeoutError, ProtocolError
from drivers.retry import RetryPolicy
from drivers.visca.codec import ErrorCode, ErrorReply, error_class

#: a "buffer full" command is retried (5 times, 0.1 s apart): the sockets free up as moves end
BUFFER_FULL_RETRY = RetryPolicy(attempts=6, pause_s=0.1, on=(DeviceBusyError,))


class ViscaTransport(abc.ABC):
    """Send VISCA message bodies to one camera; wait for ACK, completion or inquiry data."""

    def __init__(self, name: str, *, timeout_s: float) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.log = logging.getLogger(f"mcu_control.device.{name}")

    @abc.abstractmethod
    async def open(self) -> None:
        """Open the link (serial port, socket or UDP endpoint)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the link; safe to call twice."""

    async def command(self, body: bytes, *, completion_timeout_s: float | None = None) -> None:
        """Send a command; return after its completion (or after the ACK when the timeout is None).

        A "command buffer full" reply is retried a few times, since the sockets free up
        as running moves finish; every other error reply raises DeviceError.
        """
        await BUFFER_FULL_RETRY.run(
            lambda: self._command(body, completion_timeout_s),
            log=self.log,
            what=f"command {body.hex(' ')}",
        )

    @abc.abstractmethod
    async def inquiry(self, body: bytes) -> bytes:
        """Send an inquiry; return the data bytes of its completion (`y0 50 <data> FF`)."""

    @abc.abstractmethod
    async def _command(self, body: bytes, completion_timeout_s: float | None) -> None: ...

    def _device_error(self, reply: ErrorReply, body: bytes) -> DeviceError:
        hints: dict[int, str] = {
            ErrorCode.BUFFER_FULL: "two commands are still running; wait for them or send Stop",
            ErrorCode.SYNTAX: "the model does not know this command or parameter; check the model file",
            ErrorCode.NOT_EXECUTABLE: "the camera cannot do this now (standby? menu open?)",
        }
        hint = hints.get(reply.code)
        return error_class(reply.code)(
            f"VISCA {reply.text}" + (f" for command {body.hex(' ')}" if body else ""),
            device=self.name,
            hint=hint,
            code=reply.code,
        )

    def _timeout(
        self, what: str, timeout_s: float, *, may_have_applied: bool = False
    ) -> DeviceTimeoutError:
        """No answer at all: the camera may be off or the link wrong."""
        hint = "check power, cabling/address (serial) or host and port (IP)"
        if may_have_applied:
            hint = (
                f"the command may still be applied; {hint}; check with `mcu-control camera status`"
            )
        return DeviceTimeoutError(
            f"no VISCA {what} within {timeout_s:g} s",
            device=self.name,
            hint=hint,
            timeout_s=timeout_s,
            may_have_applied=may_have_applied,
        )

    def _completion_timeout(self, body: bytes, timeout_s: float) -> DeviceTimeoutError:
        """ACK but no completion: the camera took the command and is still carrying it out."""
        return DeviceTimeoutError(
            f"the camera acknowledged {body.hex(' ')} but reported no completion within "
            f"{timeout_s:g} s: it is still moving",
            device=self.name,
            hint="the move may still finish; check with `mcu-control camera status`, "
            "or allow longer (--wait-timeout)",
            timeout_s=timeout_s,
            may_have_applied=True,
        )

    def protocol_error(self, detail: str) -> ProtocolError:
        return ProtocolError(
            f"not a VISCA reply: {detail}",
            device=self.name,
            hint="check the baud rate and that the port is the camera's VISCA port",
        )
