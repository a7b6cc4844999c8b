"""Vectorised AC power flow over many steps at once, on the admittance matrix pandapower builds.

The network topology and impedances are the same in every step of a schedule; only the bus injections
change. :class:`BatchPowerFlow` runs ``pp.runpp`` once to let pandapower build its internal case
(``net._ppc["internal"]``: ``Ybus``, ``Yf``, ``Yt``, bus types, lookups), then solves all steps together:

- with lightsim2grid's C++ time-series solver on that same internal case when lightsim2grid is installed
  and reproduces pandapower's admittance matrix (:mod:`microgrid.network.lightsim`, the default);
- otherwise (and for any step the first engine leaves unconverged) with a Newton–Raphson iteration in
  polar coordinates whose Jacobians are stacked into one ``(steps, 2m, 2m)`` array (MATPOWER's
  ``dSbus_dV`` formulas, Zimmerman et al. 2011) and solved with one batched ``numpy.linalg.solve`` per
  iteration. Steps that have converged drop out of the iteration.

Either way a step counts as converged only when its mismatch, recomputed here on pandapower's ``Ybus``,
is below the tolerance.

Results follow pandapower's definitions exactly (``pandapower.results_branch``): branch current
``i = |S| / (√3 · |V| · V_base)`` on each side; line loading ``max(i_from, i_to) / (max_i_ka · df ·
parallel)``; transformer loading (``trafo_loading="current"``) ``max(i_hv·vn_hv, i_lv·vn_lv) · √3 / sn_mva
/ (parallel · df)``; all in percent.

Injections are taken from pandapower element setpoints (:class:`~microgrid.network.builder.ElementPowers`)
with pandapower's own signs, as ``pandapower.build_bus`` does: load and storage ``p_mw`` consume, sgen
``p_mw`` generates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandapower as pp
from pandapower.pypower.idx_brch import F_BUS, T_BUS
from pandapower.pypower.idx_bus import BASE_KV

from microgrid.errors import UserError
from microgrid.network.builder import ASSET_TABLES, ElementPowers
from microgrid.network.lightsim import LightSimSeries

SQRT3 = np.sqrt(3.0)
DEFAULT_TOL_PU = 1e-9
"""Largest power mismatch accepted at any bus, per unit of ``net.sn_mva`` (pandapower: 1e-8 MVA)."""


class PowerFlowSetupError(UserError):
    """pandapower could not build the internal case: the net has no power-flow solution even without load."""

    exit_code = 3


@dataclass
class BatchSolution:
    """Complex bus voltages of every step (internal bus order) and how the iteration ended."""

    v: np.ndarray
    """Complex voltage, per unit, shape (steps, internal buses)."""
    converged: np.ndarray
    """True where the mismatch fell below the tolerance, shape (steps,)."""
    iterations: np.ndarray
    max_mismatch_pu: np.ndarray
    """Largest remaining active/reactive mismatch of each step, per unit."""


@dataclass
class FlowResults:
    """Per-step results in pandapower element order (rows = steps)."""

    vm_pu: np.ndarray
    """Bus voltage magnitude, shape (steps, buses in ``net.bus`` order)."""
    va_degree: np.ndarray
    line_i_ka: np.ndarray
    line_loading_pct: np.ndarray
    trafo_loading_pct: np.ndarray
    losses_mw: np.ndarray
    """Active losses in all lines and transformers, MW."""
    grid_p_mw: np.ndarray
    """Active power delivered by the external grid into the park (import > 0), MW."""
    grid_q_mvar: np.ndarray


@dataclass
class Sensitivities:
    """Derivatives of results with respect to the net injection of each asset (park convention, per kW).

    Arrays have shape (steps, elements, assets); ``asset_ids`` names the last axis.
    """

    asset_ids: list[str]
    line_loading_pct: np.ndarray
    trafo_loading_pct: np.ndarray
    vm_pu: np.ndarray


class BatchPowerFlow:
    """AC power flow of one pandapower net for many injection scenarios at once."""

    def __init__(self, net: pp.pandapowerNet, tol_pu: float = DEFAULT_TOL_PU, max_iter: int = 20,
                 backend: str = "auto") -> None:
        """``backend``: ``"auto"`` (lightsim2grid when it can take the case, else numpy), ``"numpy"``."""
        if backend not in ("auto", "numpy"):
            raise ValueError(f"unknown power-flow backend '{backend}' (use auto or numpy)")
        self.net = net
        self.tol_pu = tol_pu
        self.max_iter = max_iter
        at_no_load = _initial_runpp(net)
        ppc = net._ppc
        ppci = ppc["internal"]
        self.base_mva = float(ppci["baseMVA"])
        self.ybus = ppci["Ybus"].toarray()
        self.yf = ppci["Yf"].toarray()
        self.yt = ppci["Yt"].toarray()
        self.n_bus = self.ybus.shape[0]
        self.ref = np.asarray(ppci["ref"], dtype=np.int64)
        self.pv = np.asarray(ppci["pv"], dtype=np.int64)
        self.pq = np.asarray(ppci["pq"], dtype=np.int64)
        self.pvpq = np.r_[self.pv, self.pq]
        self.v_init = np.asarray(ppci["V"], dtype=complex).copy()
        self.base_kv = ppci["bus"][:, BASE_KV].real.astype(float)
        branch = ppci["branch"]
        self.f_bus = branch[:, F_BUS].real.astype(np.int64)
        self.t_bus = branch[:, T_BUS].real.astype(np.int64)
        self.bus_lookup = np.asarray(net._pd2ppc_lookups["bus"], dtype=np.int64)
        self.pp_bus_internal = self.bus_lookup[net.bus.index.to_numpy()]
        self._map_branches(ppc, net)
        self._element_bus = {t: self.bus_lookup[net[t]["bus"].to_numpy()] for t in ASSET_TABLES}
        self._element_scale = {t: (net[t]["scaling"].to_numpy(float) * net[t]["in_service"].to_numpy(float))
                               for t in ASSET_TABLES}
        # Injections pandapower saw, minus the part coming from asset elements = fixed part (shunts, wards...).
        powers = self._current_powers()
        if at_no_load:
            powers = ElementPowers({t: 0 * p for t, p in powers.p_mw.items()}, {t: 0 * q for t, q in powers.q_mvar.items()})
        s_now = self.element_injections_pu(powers)[0]
        self.s_fixed = np.asarray(ppci["Sbus"], dtype=complex) - s_now
        self._engine = LightSimSeries.build(ppci) if backend == "auto" else None
        self.backend = "lightsim2grid" if self._engine is not None else "numpy"
        """Engine that solves batches: ``"lightsim2grid"`` or ``"numpy"``."""

    # ---- setup -------------------------------------------------------------------------------
    def _map_branches(self, ppc: dict, net: pp.pandapowerNet) -> None:
        in_service = np.asarray(ppc["internal"]["branch_is"], dtype=bool)
        ppc_to_ppci = np.cumsum(in_service) - 1
        ppc_to_ppci[~in_service] = -1
        ranges = net._pd2ppc_lookups["branch"]
        self.line_branch = self._branch_range(ranges.get("line"), len(net.line), ppc_to_ppci)
        self.trafo_branch = self._branch_range(ranges.get("trafo"), len(net.trafo), ppc_to_ppci)
        line = net.line
        self.line_i_max = (line["max_i_ka"] * line["df"] * line["parallel"]).to_numpy(float)
        trafo = net.trafo
        self.trafo_vn = np.column_stack([trafo["vn_hv_kv"].to_numpy(float), trafo["vn_lv_kv"].to_numpy(float)]) \
            if len(trafo) else np.zeros((0, 2))
        self.trafo_div = (trafo["sn_mva"] * trafo["parallel"] * trafo["df"]).to_numpy(float)

    @staticmethod
    def _branch_range(rng: tuple[int, int] | None, n: int, ppc_to_ppci: np.ndarray) -> np.ndarray:
        if rng is None:
            return np.full(n, -1, dtype=np.int64)
        return ppc_to_ppci[rng[0]:rng[1]]

    def _current_powers(self) -> ElementPowers:
        net = self.net
        return ElementPowers({t: net[t]["p_mw"].to_numpy(float)[None, :] for t in ASSET_TABLES},
                             {t: net[t]["q_mvar"].to_numpy(float)[None, :] for t in ASSET_TABLES})

    # ---- injections --------------------------------------------------------------------------
    def element_injections_pu(self, powers: ElementPowers) -> np.ndarray:
        """Complex bus injections (generation positive, per unit) of the asset elements, (steps, buses)."""
        n_steps = powers.n_steps
        s = np.zeros((n_steps, self.n_bus), dtype=complex)
        for table in ASSET_TABLES:
            p, q = powers.p_mw[table], powers.q_mvar[table]
            if p.shape[1] == 0:
                continue
            sign = 1.0 if table == "sgen" else -1.0  # pandapower: loads and storage consume
            s_el = sign * (p + 1j * q) * self._element_scale[table][None, :] / self.base_mva
            np.add.at(s.T, self._element_bus[table], s_el.T)
        return s

    def bus_injections_pu(self, powers: ElementPowers) -> np.ndarray:
        """All bus injections (per unit, generation positive) for ``powers``, shape (steps, buses)."""
        return self.s_fixed[None, :] + self.element_injections_pu(powers)

    # ---- Newton-Raphson ------------------------------------------------------------------------
    def _mismatch(self, v: np.ndarray, s_spec: np.ndarray) -> np.ndarray:
        mis = v * np.conj(v @ self.ybus.T) - s_spec
        return np.concatenate([mis[:, self.pvpq].real, mis[:, self.pq].imag], axis=1)

    def jacobian(self, v: np.ndarray) -> np.ndarray:
        """Power-flow Jacobians ∂[P_pvpq; Q_pq]/∂[θ_pvpq; |V|_pq] of each step, shape (steps, 2m, 2m)."""
        y = self.ybus
        i_bus = v @ y.T
        vn = v / np.abs(v)
        diag = np.arange(self.n_bus)
        vi = v[:, :, None]
        ds_dvm = vi * np.conj(y[None, :, :] * vn[:, None, :])
        ds_dvm[:, diag, diag] += np.conj(i_bus) * vn
        ds_dva = -1j * vi * np.conj(y[None, :, :] * v[:, None, :])
        ds_dva[:, diag, diag] += 1j * v * np.conj(i_bus)
        pvpq, pq = self.pvpq, self.pq
        j11 = ds_dva[:, pvpq][:, :, pvpq].real
        j12 = ds_dvm[:, pvpq][:, :, pq].real
        j21 = ds_dva[:, pq][:, :, pvpq].imag
        j22 = ds_dvm[:, pq][:, :, pq].imag
        return np.concatenate([np.concatenate([j11, j12], axis=2), np.concatenate([j21, j22], axis=2)], axis=1)

    def solve(self, s_bus_pu: np.ndarray, v0: np.ndarray | None = None) -> BatchSolution:
        """Solve every row of ``s_bus_pu`` (steps × buses, generation positive); start from ``v0`` or the
        voltages of the initial pandapower solution."""
        if self._engine is None or v0 is not None or s_bus_pu.shape[0] == 0:
            return self._newton(s_bus_pu, v0)
        n_steps = s_bus_pu.shape[0]
        finite = np.all(np.isfinite(s_bus_pu), axis=1)
        v = np.tile(self.v_init, (n_steps, 1))
        if finite.any():
            v[finite] = self._engine.solve(s_bus_pu[finite], self.v_init, self.tol_pu, self.max_iter)
        good = finite & np.all(np.isfinite(v), axis=1)
        err = np.full(n_steps, np.inf)
        if good.any():
            f = self._mismatch(v[good], s_bus_pu[good])
            err[good] = np.abs(f).max(axis=1) if f.shape[1] else 0.0
        redo = np.flatnonzero(err >= self.tol_pu)
        iterations = np.zeros(n_steps, dtype=np.int64)
        if redo.size:  # the numpy Newton gets the steps the first engine left unconverged
            again = self._newton(s_bus_pu[redo])
            v[redo], err[redo], iterations[redo] = again.v, again.max_mismatch_pu, again.iterations
        converged = (err < self.tol_pu) & finite
        return BatchSolution(v, converged, iterations, err)

    def _newton(self, s_bus_pu: np.ndarray, v0: np.ndarray | None = None) -> BatchSolution:
        """The numpy batched Newton–Raphson (see the module docstring)."""
        n_steps = s_bus_pu.shape[0]
        v = np.tile(self.v_init, (n_steps, 1)) if v0 is None else np.array(v0, dtype=complex, copy=True)
        vm, va = np.abs(v), np.angle(v)
        npvpq = len(self.pvpq)
        iterations = np.zeros(n_steps, dtype=np.int64)
        f = self._mismatch(v, s_bus_pu)
        err = np.abs(f).max(axis=1) if f.shape[1] else np.zeros(n_steps)
        finite = np.all(np.isfinite(s_bus_pu), axis=1)
        active = (err >= self.tol_pu) & finite
        for _ in range(self.max_iter):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            jac = self.jacobian(v[idx])
            try:
                dx = np.linalg.solve(jac, -f[idx][:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                dx = np.stack([_solve_or_nan(jac[k], -f[i]) for k, i in enumerate(idx)])
            va[np.ix_(idx, self.pvpq)] += dx[:, :npvpq]
            vm[np.ix_(idx, self.pq)] += dx[:, npvpq:]
            v[idx] = vm[idx] * np.exp(1j * va[idx])
            iterations[idx] += 1
            f[idx] = self._mismatch(v[idx], s_bus_pu[idx])
            err[idx] = np.abs(f[idx]).max(axis=1)
            sane = np.isfinite(err[idx]) & np.all((vm[idx] > 0.3) & (vm[idx] < 3.0), axis=1)
            active[idx] = (err[idx] >= self.tol_pu) & sane
        converged = (err < self.tol_pu) & finite & np.all(np.isfinite(v), axis=1)
        err = np.where(finite, err, np.inf)
        return BatchSolution(v, converged, iterations, err)

    # ---- results ---------------------------------------------------------------------------------
    def _branch_side_flows(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Complex power (MVA) and current (kA) entering each branch at its from and to ends."""
        s_f = v[:, self.f_bus] * np.conj(v @ self.yf.T) * self.base_mva
        s_t = v[:, self.t_bus] * np.conj(v @ self.yt.T) * self.base_mva
        i_f = np.abs(s_f) / (np.abs(v[:, self.f_bus]) * self.base_kv[self.f_bus] * SQRT3)
        i_t = np.abs(s_t) / (np.abs(v[:, self.t_bus]) * self.base_kv[self.t_bus] * SQRT3)
        return s_f, s_t, i_f, i_t

    @staticmethod
    def _take(values: np.ndarray, branch: np.ndarray) -> np.ndarray:
        out = values[:, np.maximum(branch, 0)]
        out[:, branch < 0] = 0.0
        return out

    def results(self, v: np.ndarray) -> FlowResults:
        """Bus, line, transformer and grid results of solved voltages ``v`` (steps × internal buses)."""
        s_f, s_t, i_f, i_t = self._branch_side_flows(v)
        i_line = np.maximum(self._take(i_f, self.line_branch), self._take(i_t, self.line_branch))
        with np.errstate(divide="ignore", invalid="ignore"):
            line_loading = np.where(self.line_i_max > 0, i_line / self.line_i_max * 100.0, np.inf)
        i_hv, i_lv = self._take(i_f, self.trafo_branch), self._take(i_t, self.trafo_branch)
        trafo_loading = (np.maximum(i_hv * self.trafo_vn[:, 0], i_lv * self.trafo_vn[:, 1]) * SQRT3
                         / self.trafo_div * 100.0)
        s_grid = (v[:, self.ref] * np.conj((v @ self.ybus.T)[:, self.ref])).sum(axis=1) * self.base_mva
        v_bus = v[:, self.pp_bus_internal]
        return FlowResults(
            vm_pu=np.abs(v_bus), va_degree=np.degrees(np.angle(v_bus)), line_i_ka=i_line,
            line_loading_pct=line_loading, trafo_loading_pct=trafo_loading,
            losses_mw=(s_f + s_t).real.sum(axis=1), grid_p_mw=s_grid.real, grid_q_mvar=s_grid.imag)

    # ---- sensitivities -------------------------------------------------------------------------
    def sensitivities(self, v: np.ndarray, asset_bus: np.ndarray, q_ratio: np.ndarray,
                      asset_ids: list[str]) -> Sensitivities:
        """First-order change of loadings (%/kW) and voltages (pu/kW) per kW of net injection of each asset.

        ``asset_bus`` are pandapower bus indices, ``q_ratio`` the reactive injection per unit of active
        injection of each asset (tan φ for loads). The slack (external grid) absorbs the change. The
        derivative comes from the Jacobian at ``v``: ``J·Δx = ΔS`` gives the angle and magnitude changes, then
        branch currents change by ``Yf·ΔV`` (exact first order of the AC equations).
        """
        n_steps, n_assets = v.shape[0], len(asset_ids)
        npvpq = len(self.pvpq)
        bus = self.bus_lookup[np.asarray(asset_bus, dtype=np.int64)]
        dp = 1e-3 / self.base_mva  # 1 kW in per unit
        rhs = np.zeros((len(self.pvpq) + len(self.pq), n_assets))
        pos_pvpq = {b: k for k, b in enumerate(self.pvpq)}
        pos_pq = {b: k for k, b in enumerate(self.pq)}
        for a, (b, r) in enumerate(zip(bus, q_ratio, strict=True)):
            if b in pos_pvpq:
                rhs[pos_pvpq[b], a] = dp
            if b in pos_pq:
                rhs[npvpq + pos_pq[b], a] = dp * r
        jac = self.jacobian(v)
        dx = np.linalg.solve(jac, np.broadcast_to(rhs, (n_steps, *rhs.shape)))
        dv = np.zeros((n_steps, self.n_bus, n_assets), dtype=complex)
        dv[:, self.pvpq, :] += 1j * v[:, self.pvpq, None] * dx[:, :npvpq, :]
        dv[:, self.pq, :] += (v[:, self.pq] / np.abs(v[:, self.pq]))[:, :, None] * dx[:, npvpq:, :]
        d_vm = (np.conj(v)[:, :, None] * dv).real / np.abs(v)[:, :, None]
        d_i_f = self._d_current(v, dv, self.yf, self.f_bus)
        d_i_t = self._d_current(v, dv, self.yt, self.t_bus)
        _, _, i_f, i_t = self._branch_side_flows(v)
        # Loading is the max over both ends: differentiate the end that is larger at the operating point.
        line_from = self._take(i_f, self.line_branch) >= self._take(i_t, self.line_branch)
        d_line = np.where(line_from[:, :, None], self._take3(d_i_f, self.line_branch),
                          self._take3(d_i_t, self.line_branch))
        with np.errstate(divide="ignore", invalid="ignore"):
            d_line = np.where(self.line_i_max[None, :, None] > 0, d_line / self.line_i_max[None, :, None] * 100, 0)
        hv = self._take(i_f, self.trafo_branch) * self.trafo_vn[:, 0]
        lv = self._take(i_t, self.trafo_branch) * self.trafo_vn[:, 1]
        d_trafo = np.where((hv >= lv)[:, :, None],
                           self._take3(d_i_f, self.trafo_branch) * self.trafo_vn[None, :, 0, None],
                           self._take3(d_i_t, self.trafo_branch) * self.trafo_vn[None, :, 1, None])
        d_trafo = d_trafo * SQRT3 / self.trafo_div[None, :, None] * 100
        return Sensitivities(list(asset_ids), d_line, d_trafo, d_vm[:, self.pp_bus_internal, :])

    def _d_current(self, v: np.ndarray, dv: np.ndarray, y_side: np.ndarray, side_bus: np.ndarray) -> np.ndarray:
        """d|i| (kA) at one end of every branch, shape (steps, branches, assets)."""
        v_s = v[:, side_bus]
        i_s = v @ y_side.T
        s = v_s * np.conj(i_s)
        ds = dv[:, side_bus, :] * np.conj(i_s)[:, :, None] + v_s[:, :, None] * np.conj(np.einsum("bn,tna->tba", y_side, dv))
        abs_s = np.abs(s)
        abs_v = np.abs(v_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_abs_s = np.where(abs_s[:, :, None] > 0, (np.conj(s)[:, :, None] * ds).real / abs_s[:, :, None], 0.0)
        d_abs_v = (np.conj(v_s)[:, :, None] * dv[:, side_bus, :]).real / abs_v[:, :, None]
        base = self.base_kv[side_bus][None, :, None] * SQRT3
        return (d_abs_s - abs_s[:, :, None] * d_abs_v / abs_v[:, :, None]) / (abs_v[:, :, None] * base) * self.base_mva

    @staticmethod
    def _take3(values: np.ndarray, branch: np.ndarray) -> np.ndarray:
        out = values[:, np.maximum(branch, 0), :]
        out[:, branch < 0, :] = 0.0
        return out


def _initial_runpp(net: pp.pandapowerNet) -> bool:
    """One ``runpp`` so that pandapower builds its internal case: at the net's present setpoints, or without
    any load or generation if those do not converge (the start voltages are then the no-load ones).
    Returns True in the second case."""
    try:
        pp.runpp(net, numba=False, init="flat", calculate_voltage_angles=True, max_iteration=30)
        return False
    except pp.LoadflowNotConverged:
        pass
    saved = {t: (net[t]["p_mw"].copy(), net[t]["q_mvar"].copy()) for t in ASSET_TABLES}
    try:
        for table in ASSET_TABLES:
            net[table]["p_mw"] = 0.0
            net[table]["q_mvar"] = 0.0
        pp.runpp(net, numba=False, init="flat", calculate_voltage_angles=True, max_iteration=30)
    except pp.LoadflowNotConverged:
        raise PowerFlowSetupError(f"network '{net.name}' has no power-flow solution even without load",
                                  ["check the line lengths and types and the transformer impedances"]) from None
    finally:
        for table, (p, q) in saved.items():
            net[table]["p_mw"] = p
            net[table]["q_mvar"] = q
    return True


def _solve_or_nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.full_like(b, np.nan)
