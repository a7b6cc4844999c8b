"""Runtime settings and the per-cycle report (kept apart so the API and tools can import them lightly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from microgrid.control.controllers import ControllerConfig, Setpoints
from microgrid.control.modes import Mode
from microgrid.site.models import Site

JobMode = Literal["auto", "apscheduler", "clock", "polled"]
CYCLE_HISTORY = 50_000
"""Cycle wall times kept for statistics (a day at 2 s cycles is 43,200)."""


DEFAULT_IMPORT_MARGIN_PCT = 1.0
"""Import margin when the site file gives none, percent of the import cap."""


def import_margin_kw(site: Site) -> float:
    """Headroom the loop keeps below the import cap, kW (site ``control.import_margin_kw`` or 1 % of the cap)."""
    given = site.control.import_margin_kw
    return given if given is not None else DEFAULT_IMPORT_MARGIN_PCT / 100 * site.grid.import_cap_kw


@dataclass
class RuntimeOptions:
    """Runtime settings not in the site file (site ``control:`` values are the defaults)."""

    cycle_s: float = 2.0
    meter_stale_s: float = 5.0
    telemetry_every_s: float = 10.0
    """Telemetry rows are means over this window (downsampling)."""
    deadband_kw: float = 1.0
    """A setpoint within this of the value the device holds is not re-sent (the drivers add their own)."""
    recover_cycles: int = 3
    """Fresh PCC readings in a row needed to leave the safe state."""
    day_ahead_at: str = "15:00"
    intraday_every_min: int = 15
    horizon_h: float = 24.0
    plan_on_start: bool = True
    """Plan at once on start when no plan covers now."""
    jobs: JobMode = "auto"
    """``auto``: polled (inline) for a stepped clock, APScheduler for a real clock, clock-driven otherwise."""
    misfire_grace_s: float = 60.0
    planning_inline: bool | None = None
    """Solve on the loop thread (``None``: yes for stepped clocks)."""
    pace_speed: float | None = None
    """Stepped clock only: never run simulated time faster than this multiple of the wall clock."""
    controller: ControllerConfig = field(default_factory=ControllerConfig)

    @classmethod
    def from_site(cls, site: Site, **overrides) -> RuntimeOptions:
        c = site.control
        base = dict(cycle_s=c.cycle_s, meter_stale_s=c.meter_stale_s, day_ahead_at=c.day_ahead_at,
                    intraday_every_min=c.intraday_every_min,
                    controller=ControllerConfig(export_margin_kw=c.export_margin_kw,
                                                import_margin_kw=import_margin_kw(site),
                                                safe_min_load_kw=c.safe_min_load_kw))
        base.update(overrides)
        return cls(**base)


@dataclass
class CycleReport:
    """What one real-time cycle did (also the live values the API serves)."""

    ts: datetime
    mode: Mode
    pcc_kw: float | None
    setpoints: Setpoints | None
    loads_kw: dict[str, float]
    writes: int
    plan_id: str | None
    duration_s: float
