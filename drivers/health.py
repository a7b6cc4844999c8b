"""Per-device communication health: ``online`` / ``degraded`` / ``stale`` / ``offline``.

The state is derived from what the last requests produced, on the driver's clock:

- ``offline``: no link (connection refused or dropped), ``offline_after`` consecutive timeouts, or never read
  successfully;
- ``stale``: the device is not declared offline but its newest good measurement is older than
  ``stale_after_s`` (it must not be used for control);
- ``degraded``: data are fresh but the device is not answering cleanly: some requests got exception replies
  (the device is alive, e.g. busy or an unsupported register), or some timed out without reaching
  ``offline_after``, or a readback or configuration check failed;
- ``online``: the last poll read every point cleanly and the data are fresh.

Exception replies prove that the device is alive: they never count towards ``offline``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Health(StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"
    STALE = "stale"
    OFFLINE = "offline"

    @property
    def rank(self) -> int:
        """Severity, 0 (online) .. 3 (offline); the worse of two devices has the higher rank."""
        return _RANK[self]


_RANK = {Health.ONLINE: 0, Health.DEGRADED: 1, Health.STALE: 2, Health.OFFLINE: 3}


def worst(states: list[Health]) -> Health:
    """The most severe of ``states`` (``offline`` for an empty list)."""
    return max(states, key=lambda h: h.rank) if states else Health.OFFLINE


@dataclass
class HealthTracker:
    """Counts the outcomes of one device's requests and derives its :class:`Health`."""

    stale_after_s: float
    offline_after: int = 3
    """Consecutive timeouts (no answer at all) before the device is declared offline."""
    last_ok_t: float | None = None
    """Monotonic time of the last poll that delivered data."""
    last_ok_time: datetime | None = None
    last_alive_t: float | None = None
    """Monotonic time of the last answer of any kind (data or exception reply)."""
    consecutive_timeouts: int = 0
    link_down: bool = False
    last_poll_clean: bool = False
    last_error: str = ""
    problems: dict[str, str] = field(default_factory=dict)
    """Standing problems that keep the device degraded until cleared (e.g. ``readback``, ``config``)."""
    n_ok: int = 0
    n_timeouts: int = 0
    n_exception_replies: int = 0
    n_busy: int = 0
    n_disconnects: int = 0

    def record_poll(self, t: float, when: datetime, *, delivered: bool, clean: bool) -> None:
        """A poll finished: ``delivered`` some data, ``clean`` = every request answered with data."""
        self.last_poll_clean = clean
        if delivered:
            self.last_ok_t = t
            self.last_ok_time = when
            self.n_ok += 1

    def record_answer(self, t: float) -> None:
        """The device answered (data or exception reply): it is alive and the link is up."""
        self.last_alive_t = t
        self.consecutive_timeouts = 0
        self.link_down = False

    def record_exception_reply(self, t: float, message: str) -> None:
        """A request ended with an exception reply (busy replies are also counted one by one in ``n_busy``
        by the transport's callback)."""
        self.record_answer(t)
        self.n_exception_replies += 1
        self.last_error = message

    def record_timeout(self, message: str) -> None:
        self.consecutive_timeouts += 1
        self.n_timeouts += 1
        self.last_error = message

    def record_disconnected(self, message: str) -> None:
        if not self.link_down:
            self.n_disconnects += 1
        self.link_down = True
        self.last_error = message

    def set_problem(self, key: str, message: str) -> None:
        self.problems[key] = message

    def clear_problem(self, key: str) -> None:
        self.problems.pop(key, None)

    def state(self, now_t: float) -> Health:
        """The health at monotonic time ``now_t``."""
        if self.link_down or self.consecutive_timeouts >= self.offline_after or self.last_ok_t is None:
            return Health.OFFLINE
        if now_t - self.last_ok_t > self.stale_after_s:
            return Health.STALE
        if self.consecutive_timeouts > 0 or not self.last_poll_clean or self.problems:
            return Health.DEGRADED
        return Health.ONLINE

    def describe(self, now_t: float) -> str:
        """One line: state, age of the data and the last error or standing problems."""
        state = self.state(now_t)
        parts = [state.value]
        if self.last_ok_t is not None:
            parts.append(f"data age {now_t - self.last_ok_t:.1f} s")
        if self.problems:
            parts.extend(self.problems.values())
        elif state is not Health.ONLINE and self.last_error:
            parts.append(self.last_error)
        return "; ".join(parts)


__all__ = ["Health", "HealthTracker", "worst"]
