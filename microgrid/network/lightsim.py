"""lightsim2grid as the batch power-flow engine, built from pandapower's own internal case.

:class:`LightSimSeries` hands pandapower's internal case (``net._ppc["internal"]``: buses after switch
fusion and auxiliary buses for open line switches, in-service branches, storage and every other element
already folded into bus injections) to lightsim2grid as a MATPOWER case, with one load per bus through
which each step's full bus injection is given. lightsim2grid's ``TimeSeriesCPP`` then solves all steps
in C++ (Newton-Raphson, KLU). Because the case *is* pandapower's, open switches, fused buses and storage
are handled exactly as ``runpp`` handles them.

The MATPOWER branch model has no series/shunt conductance column for transformer iron losses
(pandapower's ``BR_G``); the admittance lightsim2grid builds is therefore compared with pandapower's
``Ybus`` and a purely diagonal difference is moved to bus shunts. Any other difference (or a missing
lightsim2grid) means :meth:`LightSimSeries.build` returns ``None`` and the caller keeps its own solver.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

log = logging.getLogger(__name__)

_BUS_COLS, _GEN_COLS, _BRANCH_COLS = 13, 21, 13
_PD, _QD, _GS, _BS = 2, 3, 4, 5
_PG = 1
_YBUS_TOL = 1e-9
"""Largest accepted difference between pandapower's and lightsim2grid's admittance entries, per unit."""


def available() -> bool:
    """True when lightsim2grid imports on this machine."""
    try:
        import lightsim2grid  # noqa: F401
    except ImportError:
        return False
    return True


class LightSimSeries:
    """Solves many injection scenarios of one internal case with lightsim2grid ``TimeSeriesCPP``."""

    def __init__(self, grid, base_mva: float, n_bus: int, n_gen: int) -> None:
        self._grid = grid
        self.base_mva = base_mva
        self.n_bus = n_bus
        self.n_gen = n_gen

    @classmethod
    def build(cls, ppci: dict) -> LightSimSeries | None:
        """The engine for ``ppci`` (pandapower's internal case after a ``runpp``), or ``None`` when
        lightsim2grid is absent or cannot reproduce pandapower's admittance matrix."""
        if not available():
            return None
        from lightsim2grid.network.from_matpower import init as init_from_matpower

        base_mva = float(ppci["baseMVA"])
        bus = np.array(ppci["bus"].real[:, :_BUS_COLS], dtype=float)
        gen = np.array(ppci["gen"].real[:, :_GEN_COLS], dtype=float)
        branch = np.array(ppci["branch"].real[:, :_BRANCH_COLS], dtype=float)
        if branch.shape[0] == 0 or np.abs(ppci["branch"][:, :_BRANCH_COLS].imag).max() > 0:
            return None
        bus[:, _PD], bus[:, _QD] = 1.0, 0.0  # a load on every bus: each step's injection goes through it
        gen[:, _PG] = 0.0  # generator setpoints are part of the per-step bus injection
        y_pp = ppci["Ybus"].tocsr()

        def convert(bus_matrix: np.ndarray):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                grid = init_from_matpower({"bus": bus_matrix, "gen": gen, "branch": branch, "baseMVA": base_mva})
                grid.ac_pf(np.asarray(ppci["V"], dtype=complex), 10, 1e-8)  # assembles the admittance matrix
            y_ls = grid.get_Ybus()
            return grid, (None if y_ls is None or y_ls.shape != y_pp.shape else (y_pp - y_ls).tocsr())

        try:
            grid, diff = convert(bus)
            if diff is None:
                return None
            diag = diff.diagonal()
            off = diff - _diag(diag)
            if off.count_nonzero() and np.abs(off.data).max() > _YBUS_TOL:
                log.info("lightsim2grid admittance differs off the diagonal; using the numpy solver")
                return None
            if np.abs(diag).max() > _YBUS_TOL:  # transformer iron losses: pandapower's BR_G → bus shunts
                bus[:, _GS] += diag.real * base_mva
                bus[:, _BS] += diag.imag * base_mva
                grid, diff = convert(bus)
                if diff is None or (diff.count_nonzero() and np.abs(diff.data).max() > _YBUS_TOL):
                    return None
        except Exception as exc:  # noqa: BLE001 - any conversion failure means: use the numpy solver
            log.info("lightsim2grid cannot take this case (%s); using the numpy solver", exc)
            return None
        return cls(grid, base_mva, bus.shape[0], gen.shape[0])

    def solve(self, s_bus_pu: np.ndarray, v_init: np.ndarray, tol_pu: float, max_iter: int) -> np.ndarray:
        """Complex voltages (steps × internal buses) for the bus injections ``s_bus_pu`` (generation
        positive, per unit), starting every step from ``v_init``. Steps that did not converge hold NaN."""
        from lightsim2grid.lightsim2grid_cpp import TimeSeriesCPP

        n = s_bus_pu.shape[0]
        series = TimeSeriesCPP(self._grid)
        load_p = np.ascontiguousarray(-s_bus_pu.real * self.base_mva)
        load_q = np.ascontiguousarray(-s_bus_pu.imag * self.base_mva)
        series.compute_Vs(np.zeros((n, self.n_gen)), np.zeros((n, 0)), load_p, load_q,
                          np.asarray(v_init, dtype=complex), int(max_iter), float(tol_pu))
        v = np.array(series.get_voltages(), dtype=complex)
        if v.shape != (n, self.n_bus):
            return np.full((n, self.n_bus), np.nan + 0j)
        v[~np.any(v != 0, axis=1)] = np.nan  # lightsim2grid leaves failed steps at zero
        return v


def _diag(values: np.ndarray):
    from scipy import sparse

    return sparse.diags(values, format="csr")
