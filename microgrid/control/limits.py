"""Hard limits in the real-time loop, in priority order, for the controllable consumers.

The runtime asks this module twice per cycle (see :class:`ConsumerControl`):

1. :meth:`ConsumerControl.prepare` — the consumers' setpoints wanted this cycle (plan or override, heat
   pumps switched on/off with their minimum run/stop times and tank guard) and the change of PCC import
   they will cause, so storage and PV are set for the PCC *after* the loads move (no step across a limit
   at an interval boundary);
2. :meth:`ConsumerControl.hold_limits` — after storage and PV (:func:`~microgrid.control.controllers.balance`):
   what still crosses a limit is shed (or, for export, absorbed) by consumers in priority order:

   1. the PCC import cap and export limit (hard, every consumer kind),
   2. transformer ratings, from the tenant meters on each transformer's LV bus (hard, consumers on that bus),
   3. the demand target ``max(planned peak, month-to-date peak)`` (curtailable, shiftable and EV only).

A limit that cannot be held is named in the returned notes (the runtime raises a ``limit`` alarm).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from drivers.capabilities import FlexLoadReading, HeatPumpReading, MeterReading
from microgrid.control.controllers.consumers import (
    PEAK_SHED_KINDS,
    SHED_ORDER,
    Consumer,
    HeatPumpLimits,
    HeatPumpSwitching,
    heat_pump_consumer,
    on_off,
    shift_consumption,
    window_job_floor_kw,
)
from microgrid.site.models import WATER_KWH_PER_M3_K, Site, in_window


def follow_tol_kw(p_max_kw: float) -> float:
    """How far a consumer's measured power may be from what its setpoint should give and still follow, kW."""
    return max(2.0, 0.05 * p_max_kw)


@dataclass
class ConsumerControl:
    """Per-site consumer control state (heat-pump switching) and the limits it holds."""

    site: Site
    order: tuple[str, ...] = SHED_ORDER
    transformer_margin: float = 0.98
    """Fraction of a transformer's rating (kVA at PF 1 as kW) the loop holds on its LV meter."""
    switching: HeatPumpSwitching = field(default_factory=HeatPumpSwitching)
    cycle_s: float = 2.0
    """Control cycle, s (a window job's deadline floor looks one cycle ahead)."""
    follow_misses: int = 2
    """Cycles in a row a consumer may miss its setpoint before the loop stops counting on moving it."""

    def __post_init__(self) -> None:
        a = self.site.assets
        self.kind = {h.id: "heat_pump" for h in a.heat_pumps}
        self.kind.update({f.id: f.kind for f in a.flexible_loads})
        self.kind.update({e.id: "ev_depot" for e in a.ev_depots})
        self.bus = {x.id: x.bus for x in [*a.heat_pumps, *a.flexible_loads, *a.ev_depots]}
        self.curtail_pct = {f.id: f.max_curtail_pct for f in a.flexible_loads if f.kind == "curtailable"}
        self.hp = {h.id: HeatPumpLimits(h.p_el_min_kw, h.p_el_max_kw, h.tank_temp_min_c, h.tank_temp_max_c,
                                        h.min_run_min * 60, h.min_stop_min * 60,
                                        h.tank_volume_m3 * WATER_KWH_PER_M3_K) for h in a.heat_pumps}
        # window jobs: (window start, end, eta) — the deadline is a process limit the loop must keep
        self.windows = {f.id: (f.window_start or "00:00", f.window_end or "24:00", 1.0)
                        for f in a.flexible_loads if f.kind == "deferrable"}
        self.windows.update({e.id: (e.arrival, e.departure, e.eta_charge) for e in a.ev_depots})
        self.p_range = {h.id: (0.0, h.p_el_max_kw) for h in a.heat_pumps}
        self.p_range.update({f.id: (f.p_min_kw, f.p_max_kw) for f in a.flexible_loads})
        self.p_range.update({e.id: (0.0, e.p_max_kw) for e in a.ev_depots})
        trafos = {t.lv_bus: t for t in self.site.network.transformers}
        self.tz = ZoneInfo(self.site.timezone)
        self._wanted: dict[str, float] = {}
        self._missed: dict[str, int] = {}
        self._own_floor: dict[str, float] = {}
        self._backlog_limit: dict[str, float] = {}
        """Shiftable load id → backlog (kWh owed to the process) at which it was seen to stop deferring."""
        self.meter_trafo = {m.id: trafos[m.bus] for m in self.site.meters
                            if m.scope == "tenant" and m.bus in trafos}

    # ---- step 1 ------------------------------------------------------------------------------------
    def prepare(self, wanted: dict[str, float], hp: dict[str, HeatPumpReading], flex: dict[str, FlexLoadReading],
                now: datetime) -> tuple[list[Consumer], float]:
        """Consumers with this cycle's setpoints, and the expected change of their consumption (kW)."""
        consumers = []
        for asset_id, value in wanted.items():
            kind = self.kind.get(asset_id)
            if kind is None:
                continue
            lo, hi = self.p_range[asset_id]
            if kind == "heat_pump":
                r = hp.get(asset_id)
                p = float(r.p_el_kw) if r is not None and r.p_el_kw is not None else 0.0
                c = Consumer(asset_id, kind, self.bus[asset_id], p, value, lo, hi)
                c = heat_pump_consumer(c, self.hp[asset_id], self.switching, now,
                                       r.tank_temp_c if r is not None else None,
                                       heat_draw_kw=r.heat_draw_kw if r is not None else None,
                                       cop=r.cop if r is not None else None)
            else:
                r = flex.get(asset_id)
                p = float(r.p_kw) if r is not None and r.p_kw is not None else 0.0
                base = float(r.p_baseline_kw) if r is not None and r.p_baseline_kw is not None else None
                floor = 0.0
                if kind == "curtailable" and base is not None:
                    floor = base * (1 - self.curtail_pct[asset_id] / 100)
                if kind == "shiftable" and r is not None and base is not None:
                    floor = self._shiftable_floor(asset_id, r, base, min(max(value, lo), hi))
                if asset_id in self.windows and r is not None and r.e_pending_kwh is not None:
                    need, late = window_job_floor_kw(float(r.e_pending_kwh), self.windows[asset_id][2], hi,
                                                     self._seconds_left(asset_id, now), self.cycle_s)
                    lo = max(lo, need)
                    if late:  # its own control runs it at full power: count on that, shed the others
                        floor = hi
                c = Consumer(asset_id, kind, self.bus[asset_id], p, min(max(value, lo), hi), lo, hi, base, floor)
            self._own_floor[c.id] = c.floor_kw
            c = self._not_following(c)
            consumers.append(c)
        delta = sum(c.expected_kw(c.setpoint_kw) - c.p_kw for c in consumers)
        return consumers, delta

    def _shiftable_floor(self, asset_id: str, r: FlexLoadReading, base_kw: float, setpoint_kw: float) -> float:
        """A shiftable load's process stops deferring when the energy it owes reaches what it can hold back
        (the baseline of the last ``max_shift_h`` hours, as the plan counts it, but a real receiver or cold
        store keeps its own account): it then runs at least at its baseline whatever the setpoint. The limit
        is learned each time the load is seen to refuse (measured above its setpoint with a backlog), and
        from then on a setpoint that would take the backlog past it within two cycles (a setpoint acts one
        cycle after the reading it answers) is counted as the baseline, so storage covers the step before it
        comes (kW)."""
        owed = r.e_pending_kwh
        p = float(r.p_kw) if r.p_kw is not None else None
        wanted = self._wanted.get(asset_id)
        tol = follow_tol_kw(self.p_range[asset_id][1])
        if owed is not None and owed > 0 and p is not None and wanted is not None and p > wanted + tol \
                and p >= base_kw - tol:
            self._backlog_limit[asset_id] = float(owed)
        limit = self._backlog_limit.get(asset_id)
        if owed is None or limit is None or setpoint_kw >= base_kw:
            return 0.0
        after = float(owed) + (base_kw - setpoint_kw) * 2 * self.cycle_s / 3600
        return base_kw if after >= limit - 1e-3 else 0.0

    def _not_following(self, c: Consumer) -> Consumer:
        """A consumer whose measured power missed what its last setpoint should have given in
        ``follow_misses`` cycles in a row (a shiftable load catching up its backlog, a process in local
        control) is expected to stay where it is: the loop does not count on moving it until it follows."""
        wanted = self._wanted.get(c.id)
        tol = follow_tol_kw(c.hi_kw)
        if wanted is not None:
            self._missed[c.id] = self._missed.get(c.id, 0) + 1 if abs(c.p_kw - wanted) > tol else 0
        if c.kind != "heat_pump" and self._missed.get(c.id, 0) >= self.follow_misses:
            return replace(c, floor_kw=max(c.floor_kw, c.p_kw))
        return c

    def _seconds_left(self, asset_id: str, now: datetime) -> float:
        """Seconds left in the window of a window job now (0 outside it)."""
        start, end, _eta = self.windows[asset_id]
        local = now.astimezone(self.tz)
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return in_window(seconds, start, end)[1]

    # ---- step 2 ------------------------------------------------------------------------------------
    def hold_limits(self, consumers: list[Consumer], pcc_expected_kw: float | None, pcc_min_kw: float,
                    pcc_max_kw: float, demand_target_kw: float | None, meters: dict[str, MeterReading],
                    now: datetime) -> tuple[dict[str, float], list[str]]:
        """Final consumer setpoints and notes naming limits that cannot be held (see module docstring)."""
        setpoints = {c.id: c.setpoint_kw for c in consumers}
        notes: list[str] = []
        expected = pcc_expected_kw
        if expected is not None:
            if expected > pcc_max_kw:
                setpoints, left = shift_consumption(consumers, setpoints, pcc_max_kw - expected, self.order)
                expected = pcc_max_kw - left
                if left < -1.0:
                    notes.append(f"import cap: {-left:.1f} kW above {pcc_max_kw:.1f} kW after shedding every consumer")
            elif expected < pcc_min_kw:
                setpoints, left = shift_consumption(consumers, setpoints, pcc_min_kw - expected, self.order[::-1])
                expected = pcc_min_kw - left
                if left > 1.0:
                    notes.append(f"export limit: {left:.1f} kW below {pcc_min_kw:.1f} kW with every consumer raised")
        for meter_id, trafo in self.meter_trafo.items():
            r = meters.get(meter_id)
            if r is None or not r.valid or r.p_kw is None:
                continue
            limit = trafo.sn_kva * trafo.max_loading_pct / 100 * self.transformer_margin
            on_bus = [c for c in consumers if c.bus == trafo.lv_bus]
            change = sum(c.expected_kw(setpoints[c.id]) - c.p_kw for c in on_bus)
            over = float(r.p_kw) + change - limit
            if over > 0 and on_bus:
                setpoints, left = shift_consumption(on_bus, setpoints, -over, self.order)
                if expected is not None:
                    expected -= over + left
                if left < -1.0:
                    notes.append(f"transformer {trafo.id}: {-left:.1f} kW above {limit:.1f} kW after shedding")
        if expected is not None and demand_target_kw is not None and expected > demand_target_kw:
            setpoints, _left = shift_consumption(consumers, setpoints, demand_target_kw - expected, self.order,
                                                 kinds=PEAK_SHED_KINDS)
        for c in consumers:
            # what the final setpoint should give (the floor of a load not following left out)
            self._wanted[c.id] = replace(c, floor_kw=self._own_floor.get(c.id, 0.0)).expected_kw(setpoints[c.id])
            if c.kind == "heat_pump":
                value = on_off(setpoints[c.id], self.hp[c.id].p_min_kw)
                setpoints[c.id] = min(max(value, c.lo_kw), c.hi_kw)
                self.switching.record(c.id, setpoints[c.id] > 0, now)
        return setpoints, notes
