"""The dispatch model, built in readable steps (one ``define_*`` function per constraint family).

:func:`build_model` returns a :class:`DispatchModel`: the Pyomo model plus what is needed to update it
(intraday), to add network-limit rows and to read results. The maths of every family is in the
docstring of its ``define_*`` function and collected in docs/optimizer.md.
"""

from __future__ import annotations

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from optimizer.errors import StructureError
from optimizer.inputs import DispatchInputs
from optimizer.model.battery import define_batteries, define_battery_exclusivity
from optimizer.model.core import add_data, add_sets, init_model, injection, store_data
from optimizer.model.data import ModelData, Structure, check_compatible, compute_data
from optimizer.model.flexible import (
    define_curtailable_loads,
    define_deferrable_loads,
    define_ev_depots,
    define_shiftable_loads,
)
from optimizer.model.grid import (
    define_energy_balance,
    define_grid,
    define_grid_exclusivity,
    define_transformer_limits,
)
from optimizer.model.heat_pump import define_heat_pump_min_load, define_heat_pumps
from optimizer.model.network import define_network_limits, network_limit_body
from optimizer.model.objective import (
    define_demand_charge,
    define_green_ratio,
    define_objective,
    define_peak_reserve,
)
from optimizer.model.pv import define_pv
from optimizer.network_limits import NetworkLimit, validate_network_limits


class DispatchModel:
    """A built dispatch model.

    ``mutable=True`` keeps every value that changes intraday in mutable Params so a persistent solver
    can re-solve after :meth:`update` without a rebuild. ``elastic=True`` adds penalised slacks to the
    constraints that can conflict (diagnosis of infeasible problems). ``switches=True`` adds the
    exclusivity / on-off rows whose switch variables :meth:`set_integer` makes binary.
    """

    def __init__(self, inputs: DispatchInputs, *, mutable: bool = False, elastic: bool = False,
                 switches: bool = True, ev_slots: dict[str, int] | None = None,
                 slack_penalty: float = 1000.0) -> None:
        inputs.validate()
        self.inputs = inputs
        self.mutable = mutable
        self.elastic = elastic
        self.structure = Structure.of(inputs, ev_slots)
        self.data: ModelData = compute_data(inputs, self.structure)
        self.integer = False
        with PauseGC():  # building creates many small objects; a GC pass in the middle costs 50+ ms
            self.m = self._build(switches, slack_penalty)

    # ---- construction ----------------------------------------------------------------------
    def _build(self, switches: bool, slack_penalty: float) -> pyo.ConcreteModel:
        inp, s, elastic = self.inputs, self.structure, self.elastic
        m = init_model(inp, s)
        add_sets(m, s)
        d = add_data(m, self.data, self.mutable)
        m._d = d
        define_pv(m, d, s.pv_must_take)
        define_batteries(m, d, inp.batteries, elastic)
        define_heat_pumps(m, d, inp.heat_pumps, elastic)
        define_deferrable_loads(m, d, elastic)
        define_shiftable_loads(m, d, {x.id: (x.p_min_kw, x.p_max_kw) for x in inp.shiftable})
        define_curtailable_loads(m, d, inp.curtailable)
        define_ev_depots(m, d, inp.ev_depots, elastic)
        define_grid(m, inp, elastic, must_take=bool(s.pv_must_take))
        define_energy_balance(m, inp.asset_ids())
        define_transformer_limits(m, inp, self.data, elastic, prune=not self.mutable)
        if s.demand_charge:
            define_demand_charge(m, d, inp)
        if s.peak_reserve:
            define_peak_reserve(m, d, inp)
        if s.green:
            define_green_ratio(m, inp, elastic)
        if switches:
            if inp.batteries:
                define_battery_exclusivity(m, inp.batteries)
            if s.export_allowed and not elastic:  # the elastic import has no upper bound to switch
                define_grid_exclusivity(m, inp)
            if s.hp_min_load:
                define_heat_pump_min_load(m, inp.heat_pumps)
        define_network_limits(m, inp.network_limits, elastic)
        define_objective(m, d, inp, slack_penalty)
        return m

    # ---- use -------------------------------------------------------------------------------
    def injection_kw(self, asset_id: str, step: int):
        """Net injection of ``asset_id`` (tenant id for a base load, ``"grid"`` for the PCC import) at
        ``step`` as a linear Pyomo expression, kW, positive into the bus."""
        return injection(self.m, asset_id, step)

    def network_limit_expr(self, limit: NetworkLimit):
        """Left-hand side ``constant + Σ coeffs · p_inj`` of a :class:`NetworkLimit` row."""
        return network_limit_body(self.m, limit)

    def set_network_limits(self, limits: list[NetworkLimit]) -> None:
        """Replace the network-limit rows (a persistent solver picks the change up on its next solve)."""
        validate_network_limits(limits, self.structure.n_steps, self.inputs.asset_ids())
        self.inputs.network_limits = list(limits)
        define_network_limits(self.m, list(limits), self.elastic)

    def set_integer(self, integer: bool) -> list[pyo.Var]:
        """Make the switch variables binary (MILP) or continuous in [0, 1] (LP); returns the changed vars."""
        changed = []
        if integer == self.integer:
            return changed
        domain = pyo.Binary if integer else pyo.UnitInterval
        for comp in self.m._switches:
            for v in comp.values():
                v.domain = domain
                changed.append(v)
        self.integer = integer
        return changed

    @property
    def has_switches(self) -> bool:
        return bool(self.m._switches)

    def update(self, inputs: DispatchInputs) -> None:
        """Load new data (forecasts, prices, measured state) into the mutable Params.

        ``inputs`` must have the same structure (assets, number of steps, step length); raises
        :class:`~optimizer.errors.StructureError` otherwise.
        """
        if not self.mutable:
            raise TypeError("update() needs a model built with mutable=True")
        inputs.validate()
        new = Structure.of(inputs)
        check_compatible(self.structure, new)
        self._check_constants(inputs)
        self.data = compute_data(inputs, self.structure)
        with PauseGC():
            store_data(self.m, self.data)
        limits = self.inputs.network_limits
        self.inputs = inputs
        self.inputs.network_limits = limits

    def _check_constants(self, inputs: DispatchInputs) -> None:
        """Ratings and tariff constants are built into the model; changing them needs a rebuild."""
        old, new = self.inputs, inputs
        checks = [
            ("grid.import_limit_kw", old.grid.import_limit_kw, new.grid.import_limit_kw),
            ("grid.export_limit_kw", old.grid.export_limit_kw, new.grid.export_limit_kw),
            ("tariff.demand_charge_cny_per_kw_month", old.tariff.demand_charge_cny_per_kw_month,
             new.tariff.demand_charge_cny_per_kw_month),
            ("tariff.demand_charge_share", old.tariff.demand_charge_share, new.tariff.demand_charge_share),
        ]
        for a, b in zip(old.batteries, new.batteries, strict=True):
            checks += [(f"batteries '{a.id}' ratings", (a.p_charge_max_kw, a.p_discharge_max_kw, a.eta_charge,
                        a.eta_discharge, a.throughput_cost_cny_per_kwh),
                        (b.p_charge_max_kw, b.p_discharge_max_kw, b.eta_charge, b.eta_discharge,
                         b.throughput_cost_cny_per_kwh))]
        for a, b in zip(old.heat_pumps, new.heat_pumps, strict=True):
            checks += [(f"heat_pumps '{a.id}' ratings", (a.p_el_max_kw, a.tank_loss_pct_per_h),
                        (b.p_el_max_kw, b.tank_loss_pct_per_h))]
        for a, b in zip(old.shiftable, new.shiftable, strict=True):
            checks.append((f"shiftable '{a.id}' power limits", (a.p_min_kw, a.p_max_kw), (b.p_min_kw, b.p_max_kw)))
        for a, b in zip(old.curtailable, new.curtailable, strict=True):
            checks.append((f"curtailable '{a.id}' penalty", a.penalty_cny_per_kwh, b.penalty_cny_per_kwh))
        for a, b in zip(old.ev_depots, new.ev_depots, strict=True):
            checks.append((f"ev_depots '{a.id}' ratings", (a.p_max_kw, a.eta_charge), (b.p_max_kw, b.eta_charge)))
        for a, b in zip(old.transformers, new.transformers, strict=True):
            checks.append((f"transformers '{a.id}'", (a.limit_kw, a.asset_ids), (b.limit_kw, b.asset_ids)))
        if (old.green is None) != (new.green is None) or (old.green and old.green != new.green):
            checks.append(("green", old.green, new.green))
        diffs = [f"{name}: {a!r} → {b!r}" for name, a, b in checks if a != b]
        if diffs:
            raise StructureError("constants built into the persistent model changed (rebuild it): " + "; ".join(diffs))


def build_model(inputs: DispatchInputs, **kwargs) -> DispatchModel:
    """Build a :class:`DispatchModel` (keyword arguments as for the class)."""
    return DispatchModel(inputs, **kwargs)


__all__ = ["DispatchModel", "build_model", "compute_data", "Structure"]
