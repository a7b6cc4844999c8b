"""Day-ahead and intraday dispatch optimizer for a park microgrid (Pyomo + HiGHS).

A library with its own typed inputs (:mod:`optimizer.inputs`); it never reads a site file. Typical use::

    from optimizer import DispatchInputs, solve_dispatch
    result = solve_dispatch(inputs)          # DispatchResult: status, schedule, kpis, message
    result.schedule.frame                    # one column per asset quantity (optimizer.results)

Intraday: :class:`optimizer.intraday.IntradayPlanner` keeps the model and a persistent HiGHS solver and
re-solves after :meth:`~optimizer.intraday.IntradayPlanner.update`. The rule-based fallback is
:func:`optimizer.baseline.baseline_schedule`. Sign convention: power into the park bus is positive.
"""

from optimizer.baseline import baseline_schedule
from optimizer.diagnose import Conflict, diagnose
from optimizer.dispatch import DispatchResult, solve_dispatch
from optimizer.errors import ForecastError, InputError, OptimizerError, StructureError
from optimizer.inputs import (
    Battery,
    BinaryMode,
    Carbon,
    CurtailableLoad,
    DeferrableLoad,
    DispatchInputs,
    EndRule,
    EVDepot,
    EVSession,
    FixedLoad,
    GreenTarget,
    GridConnection,
    HeatPump,
    PeakReserve,
    PVPlant,
    ShiftableLoad,
    SolverOptions,
    Tariff,
    TransformerLimit,
)
from optimizer.intraday import IntradayPlanner, MeasuredState, apply_state
from optimizer.kpis import KPI_DOCS, compute_kpis
from optimizer.model import DispatchModel, build_model
from optimizer.network_limits import GRID_KEY, NetworkLimit
from optimizer.results import Schedule
from optimizer.solver import PersistentHighs, SolveInfo, SolveStatus

__all__ = [
    "GRID_KEY",
    "KPI_DOCS",
    "Battery",
    "BinaryMode",
    "Carbon",
    "Conflict",
    "CurtailableLoad",
    "DeferrableLoad",
    "DispatchInputs",
    "DispatchModel",
    "DispatchResult",
    "EVDepot",
    "EVSession",
    "EndRule",
    "FixedLoad",
    "ForecastError",
    "GreenTarget",
    "GridConnection",
    "HeatPump",
    "InputError",
    "IntradayPlanner",
    "MeasuredState",
    "NetworkLimit",
    "OptimizerError",
    "PVPlant",
    "PeakReserve",
    "PersistentHighs",
    "Schedule",
    "ShiftableLoad",
    "SolveInfo",
    "SolveStatus",
    "SolverOptions",
    "StructureError",
    "Tariff",
    "TransformerLimit",
    "apply_state",
    "baseline_schedule",
    "build_model",
    "compute_kpis",
    "diagnose",
    "solve_dispatch",
]
