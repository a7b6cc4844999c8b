"""Demand-response settlement: similar-days baseline, delivered reduction, shortfall, compensation.

**Baseline** (``gridside.demand_response.baseline``, the common "similar days" customer baseline): among the
``lookback_days`` days before the event day, keep the days of the same type (weekday / weekend, when
``same_day_type``), without a DR event of their own (when ``exclude_event_days``) and fully metered over
the event's window; take the ``days`` most recent; the baseline of each interval of the window is the mean
import of those days at the same time of day. Fewer than ``min_days`` such days: no baseline, the event
settles as "no baseline" (nothing paid, nothing charged).

**Figures** over the window (kWh; import > 0; intervals of the metered series):

- baseline energy ``B = Σ b_t Δt``, metered energy ``M = Σ m_t Δt``; delivered reduction ``D = max(B − M, 0)``;
- requested reduction ``R``: ``reduction_kw × hours`` for a reduction event, ``Σ max(b_t − cap, 0) Δt`` for
  a maximum-import event;
- shortfall ``S = max(R − D, 0)``; delivery ratio ``D / R``;
- compensation ``min(D, R) × compensation_cny_per_kwh`` when the ratio reaches ``min_delivery_pct``
  (else 0); penalty ``S × shortfall_penalty_cny_per_kwh``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # the report model imports Settlement without the controller (and the optimizer)
    from microgrid.control.gridcaps import DREvent
    from microgrid.site.gridside import DemandResponseSettings


class Settlement(BaseModel):
    """One DR event settled (energies kWh, money CNY; ``None`` where there is no baseline)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    start: datetime
    end: datetime
    cap_kw: float
    baseline_days: tuple[date, ...]
    baseline_kwh: float | None
    metered_kwh: float
    requested_kwh: float | None
    delivered_kwh: float | None
    shortfall_kwh: float | None
    delivery_pct: float | None
    compensation_cny: float
    penalty_cny: float
    note: str = ""
    """Why figures are missing or zero, in English (``note_code`` names it for translated reports)."""
    note_code: str = ""
    """``no_baseline``, ``not_metered`` or ``nothing_requested`` (empty: settled normally)."""

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


def _window(series: pd.Series, start: datetime, end: datetime) -> pd.Series:
    return series[(series.index >= pd.Timestamp(start)) & (series.index < pd.Timestamp(end))]


def similar_days_baseline(import_kw: pd.Series, event: DREvent, settings: DemandResponseSettings, timezone: str,
                          event_days: set[date] | frozenset[date] = frozenset()) -> tuple[pd.Series | None, tuple[date, ...]]:
    """Baseline import per interval of the event window, kW, and the days it averages (module docstring).

    ``import_kw`` is the metered mean import per interval (index: tz-aware interval starts)."""
    rule = settings.baseline
    start, end = pd.Timestamp(event.start), pd.Timestamp(event.end)
    window = _window(import_kw, start, end)
    if window.empty:
        return None, ()
    day = start.tz_convert(timezone).date()
    weekend = day.weekday() >= 5
    chosen: list[tuple[date, pd.Series]] = []
    for back in range(1, rule.lookback_days + 1):
        if len(chosen) == rule.days:
            break
        d = day - timedelta(days=back)
        if rule.same_day_type and (d.weekday() >= 5) != weekend:
            continue
        if rule.exclude_event_days and d in event_days:
            continue
        shift = pd.Timedelta(days=back)
        # the same local clock times that day (a fixed offset: the site's zone has no DST in China)
        same = import_kw.reindex(window.index - shift)
        if same.isna().any():
            continue
        chosen.append((d, pd.Series(same.to_numpy(), index=window.index)))
    if len(chosen) < rule.min_days:
        return None, tuple(d for d, _ in chosen)
    baseline = sum(s for _, s in chosen) / len(chosen)
    return baseline, tuple(d for d, _ in chosen)


def settle(event: DREvent, import_kw: pd.Series, settings: DemandResponseSettings, timezone: str,
           event_days: set[date] | frozenset[date] = frozenset()) -> Settlement:
    """Settle ``event`` from the metered mean import per interval (kW, tz-aware interval starts)."""
    window = _window(import_kw, event.start, event.end)
    step_h = ((import_kw.index[1] - import_kw.index[0]).total_seconds() / 3600) if len(import_kw) > 1 else 0.25
    metered = float(window.sum() * step_h)
    common = dict(event_id=event.id, start=event.start, end=event.end, cap_kw=event.cap_kw, metered_kwh=metered)
    blank = dict(baseline_kwh=None, requested_kwh=None, delivered_kwh=None, shortfall_kwh=None, delivery_pct=None,
                 compensation_cny=0.0, penalty_cny=0.0)
    expected = int(round((event.end - event.start).total_seconds() / 3600 / step_h))
    if window.notna().sum() < expected:
        return Settlement(**common, **blank, baseline_days=(), note_code="not_metered",
                          note=f"not metered: {int(window.notna().sum())} of {expected} intervals of the window")
    baseline, days = similar_days_baseline(import_kw, event, settings, timezone, event_days)
    if baseline is None:
        return Settlement(**common, **blank, baseline_days=days, note_code="no_baseline",
                          note=f"no baseline: {len(days)} similar day(s) metered, {settings.baseline.min_days} needed")
    base = float(baseline.sum() * step_h)
    if event.reduction_kw is not None:
        requested = event.reduction_kw * (event.end - event.start).total_seconds() / 3600
    else:
        requested = float((baseline - event.cap_kw).clip(lower=0).sum() * step_h)
    delivered = max(base - metered, 0.0)
    shortfall = max(requested - delivered, 0.0)
    pct = 100.0 * delivered / requested if requested > 0 else None
    paid = pct is None or pct >= settings.min_delivery_pct
    compensation = min(delivered, requested) * settings.compensation_cny_per_kwh if paid else 0.0
    return Settlement(**common, baseline_days=days, baseline_kwh=base, requested_kwh=requested,
                      delivered_kwh=delivered, shortfall_kwh=shortfall, delivery_pct=pct,
                      compensation_cny=compensation, penalty_cny=shortfall * settings.shortfall_penalty_cny_per_kwh,
                      note_code="" if requested > 0 else "nothing_requested",
                      note="" if requested > 0 else "the baseline was already below the cap: nothing requested")


def import_kw_from_intervals(ts: pd.Series, import_kwh: pd.Series, step_min: int) -> pd.Series:
    """Mean import per interval, kW, from interval energies (kWh) and their starts."""
    return pd.Series((import_kwh.to_numpy() * 60.0 / step_min), index=pd.DatetimeIndex(ts))
