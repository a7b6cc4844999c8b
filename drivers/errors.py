"""Errors raised by the Modbus drivers.

Communication failures are :class:`CommError` subclasses and tell a dead or unreachable device
(:class:`NotConnectedError`, :class:`ResponseTimeoutError`) from a live device that refused a request
(:class:`ExceptionReplyError`, :class:`DeviceBusyError`). User mistakes (an unknown device or point, a value
that cannot be written) are :class:`microgrid.errors.UserError` subclasses so the CLI prints them cleanly.
"""

from __future__ import annotations

from microgrid.errors import UserError

EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    7: "negative acknowledge",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
"""Modbus exception codes (Modbus Application Protocol v1.1b3 §7)."""


class CommError(Exception):
    """A Modbus request did not produce data."""


class NotConnectedError(CommError):
    """No TCP/serial link to the endpoint (refused, dropped, or waiting for the next reconnect attempt)."""


class ResponseTimeoutError(CommError):
    """The device did not answer within ``timeout × (retries + 1)`` (or a gateway reported it silent)."""


class BadReplyError(ResponseTimeoutError):
    """The device answered, but not to this request: another function code, a byte count that does not match
    the data or the number of registers asked for, or a frame that cannot be decoded. No value is taken from
    it; for health it counts like no answer (the device's answer is unusable)."""


class ExceptionReplyError(CommError):
    """The device answered with a Modbus exception: it is alive but refused this request."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def name(self) -> str:
        return EXCEPTION_NAMES.get(self.code, f"exception {self.code}")


class DeviceBusyError(ExceptionReplyError):
    """The device kept answering "busy" (exception 5/6) after the back-off retries."""


class DriverConfigError(UserError):
    """A device, map or fleet configuration the drivers cannot use."""

    exit_code = 2


class UnknownPointError(UserError):
    """A device or point name that does not exist (CLI ``--write DEVICE.POINT=VALUE``)."""

    exit_code = 2


class WriteRefusedError(UserError):
    """A write the safety rules refuse (not writable, not representable, rate-limited, unknown enum)."""

    exit_code = 2


__all__ = [
    "EXCEPTION_NAMES",
    "BadReplyError",
    "CommError",
    "DeviceBusyError",
    "DriverConfigError",
    "ExceptionReplyError",
    "NotConnectedError",
    "ResponseTimeoutError",
    "UnknownPointError",
    "WriteRefusedError",
]
