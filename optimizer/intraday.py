"""Intraday re-planning on a rolling horizon with a persistent model and a persistent HiGHS solver.

The model is built once with every value that changes intraday in mutable Params (prices, forecasts,
COP, windows, measured state). Each :meth:`IntradayPlanner.replan` writes the new values into the
Params, and the persistent solver pushes only the changed coefficients, bounds and right-hand sides to
HiGHS, which warm-starts from the previous basis. The horizon keeps its length: the caller passes
inputs whose index starts later (rolling) with the same number of intervals.

Usage::

    planner = IntradayPlanner(inputs_for_the_first_horizon)
    result = planner.solve()
    ...                                   # 15 min later
    result = planner.replan(shifted_inputs, MeasuredState(soc_pct={"ess": 63.0}, month_peak_kw=4200))
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field

from optimizer.dispatch import DispatchResult, conclude, escalate_in_place, initial_milp_reasons
from optimizer.errors import InputError
from optimizer.inputs import BinaryMode, DispatchInputs, SolverOptions
from optimizer.model import DispatchModel
from optimizer.network_limits import NetworkLimit
from optimizer.solver import make_solver


@dataclass
class MeasuredState:
    """State measured at the start of the new horizon (all optional; missing = keep the inputs' value)."""

    soc_pct: dict[str, float] = field(default_factory=dict)
    """Battery id → state of charge, %."""
    tank_kwh: dict[str, float] = field(default_factory=dict)
    """Heat-pump id → tank energy above its minimum temperature, kWh_th."""
    ev_delivered_kwh: dict[str, dict[str, float]] = field(default_factory=dict)
    """EV depot id → session id → energy already delivered to the vehicles, kWh."""
    deferrable_delivered_kwh: dict[str, float] = field(default_factory=dict)
    """Deferrable load id → energy already consumed in its current window, kWh."""
    shiftable_ahead_kwh: dict[str, float] = field(default_factory=dict)
    """Shiftable load id → energy consumed ahead (> 0) or behind (< 0) of its baseline, kWh."""
    month_peak_kw: float | None = None
    """Month-to-date peak 15-min import, kW."""


def apply_state(inputs: DispatchInputs, state: MeasuredState) -> DispatchInputs:
    """A copy of ``inputs`` with the measured state applied; unknown ids raise :class:`InputError`."""
    new = copy.copy(inputs)
    problems = []

    def replace(items: list, values: dict, attr: str, what: str) -> list:
        by_id = {x.id: x for x in items}
        for key in values:
            if key not in by_id:
                problems.append(f"{what}: unknown id '{key}' (known: {sorted(by_id)})")
        return [dataclasses.replace(x, **{attr: float(values[x.id])}) if x.id in values else x for x in items]

    new.batteries = replace(inputs.batteries, state.soc_pct, "soc_initial_pct", "soc_pct")
    new.heat_pumps = replace(inputs.heat_pumps, state.tank_kwh, "tank_initial_kwh", "tank_kwh")
    new.deferrable = replace(inputs.deferrable, state.deferrable_delivered_kwh, "delivered_kwh",
                             "deferrable_delivered_kwh")
    new.shiftable = replace(inputs.shiftable, state.shiftable_ahead_kwh, "ahead_kwh", "shiftable_ahead_kwh")
    depots = {x.id: x for x in inputs.ev_depots}
    new_depots = []
    for depot in inputs.ev_depots:
        values = state.ev_delivered_kwh.get(depot.id, {})
        known = {s.id for s in depot.sessions}
        for sid in values:
            if sid not in known:
                problems.append(f"ev_delivered_kwh.{depot.id}: unknown session '{sid}' (known: {sorted(known)})")
        sessions = [dataclasses.replace(s, delivered_kwh=float(values[s.id])) if s.id in values else s for s in depot.sessions]
        new_depots.append(dataclasses.replace(depot, sessions=sessions))
    for depot_id in state.ev_delivered_kwh:
        if depot_id not in depots:
            problems.append(f"ev_delivered_kwh: unknown EV depot '{depot_id}'")
    new.ev_depots = new_depots
    if state.month_peak_kw is not None:
        new.tariff = dataclasses.replace(inputs.tariff, month_peak_kw=float(state.month_peak_kw))
    if problems:
        raise InputError("measured state does not match the inputs", problems)
    return new


class IntradayPlanner:
    """Rolling-horizon re-planner: one mutable model, one persistent HiGHS solver.

    ``ev_slots`` reserves session slots per EV depot (default: the sessions of the first inputs), so that
    later horizons may hold more sessions than the first one without a rebuild.
    """

    def __init__(self, inputs: DispatchInputs, options: SolverOptions | None = None, *,
                 ev_slots: dict[str, int] | None = None) -> None:
        self.options = options or SolverOptions()
        start = time.perf_counter()
        self.model = DispatchModel(inputs, mutable=True, switches=self.options.binaries != BinaryMode.NEVER,
                                   ev_slots=ev_slots, slack_penalty=self.options.slack_penalty_cny_per_kwh)
        self.build_time_s = time.perf_counter() - start
        self.solver = make_solver(self.options, persistent=True)
        self.solves = 0

    @property
    def inputs(self) -> DispatchInputs:
        return self.model.inputs

    def update(self, inputs: DispatchInputs | None = None, state: MeasuredState | None = None) -> None:
        """Take new forecasts/prices (``inputs``, same structure and length) and/or the measured state.

        Network limits carried by ``inputs`` replace the current ones; inputs without any keep them
        (clear them with ``set_network_limits([])``).
        """
        new = inputs if inputs is not None else self.model.inputs
        if state is not None:
            new = apply_state(new, state)
        limits = self.model.inputs.network_limits
        self.model.update(new)
        self.model.inputs.network_limits = limits
        if inputs is not None and inputs.network_limits and list(inputs.network_limits) != list(limits):
            self.set_network_limits(list(inputs.network_limits))

    def set_network_limits(self, limits: list[NetworkLimit]) -> None:
        """Replace the linear network limits (rows are swapped in the persistent solver, no rebuild)."""
        self.model.set_network_limits(limits)
        self.solver.mark_structure_changed()

    def solve(self) -> DispatchResult:
        """Solve the current horizon (MILP only when the prices or the LP plan need it)."""
        opts = self.options
        reasons = initial_milp_reasons(self.model.inputs, opts)
        want_integer = bool(reasons) and self.model.has_switches
        if want_integer != self.model.integer:
            self.solver.update_variables(self.model.set_integer(want_integer))
        info = self.solver.solve(self.model.m, mip=self.model.integer)
        build_time = self.build_time_s if self.solves == 0 else 0.0
        self.solves += 1
        info, reasons, schedule = escalate_in_place(self.model, self.solver, info, opts, reasons)
        return conclude(self.model, info, build_time, opts, reasons, schedule)

    def replan(self, inputs: DispatchInputs | None = None, state: MeasuredState | None = None) -> DispatchResult:
        """:meth:`update` then :meth:`solve`."""
        self.update(inputs, state)
        return self.solve()
