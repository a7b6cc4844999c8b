"""Downsampling of per-cycle measurements into telemetry rows (mean over a window, worst quality)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

GOOD, UNCERTAIN, STALE, BAD = 0, 1, 2, 3
"""Quality codes (same numbers as :class:`microgrid.store.models.Quality`)."""


@dataclass(frozen=True)
class TelemetryPoint:
    """One downsampled value: the mean of ``n`` cycle samples over the window starting at ``ts``."""

    ts: datetime
    source_id: str
    quantity: str
    value: float
    quality: int = GOOD
    n: int = 1


class Downsampler:
    """Collects samples per (source, quantity) and emits window means every ``every_s`` seconds."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._window_start: datetime | None = None
        self._sums: dict[tuple[str, str], list[float]] = {}

    def add(self, ts: datetime, samples: dict[tuple[str, str], tuple[float | None, int]]) -> list[TelemetryPoint]:
        """Add one cycle's samples ``{(source, quantity): (value, quality)}``; returns rows of a closed window."""
        out: list[TelemetryPoint] = []
        if self._window_start is None:
            self._window_start = ts
        elif (ts - self._window_start).total_seconds() >= self.every_s - 1e-9:
            out = self.flush()
            self._window_start = ts
        for key, (value, quality) in samples.items():
            if value is None:
                continue
            acc = self._sums.setdefault(key, [0.0, 0, GOOD])
            acc[0] += float(value)
            acc[1] += 1
            acc[2] = max(acc[2], quality)
        return out

    def flush(self) -> list[TelemetryPoint]:
        """Rows of the window in progress (and start a new one)."""
        if self._window_start is None:
            return []
        rows = [TelemetryPoint(self._window_start, src, qty, acc[0] / acc[1], int(acc[2]), int(acc[1]))
                for (src, qty), acc in self._sums.items() if acc[1] > 0]
        self._sums = {}
        return rows
