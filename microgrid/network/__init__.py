"""The park's electrical network: pandapower model, AC check of schedules, network-constrained dispatch.

A library with its own typed inputs (the site model and a schedule); it does not import ``sim``,
``drivers`` or ``microgrid.control``. Typical use::

    from microgrid.network import ParkNetwork, check_schedule
    network = ParkNetwork.from_site(site)            # build_net(site) + vectorised solver
    check = check_schedule(network, schedule)       # NetworkCheck: voltages, loadings, violations
    check.violations; check.to_frame()

    from microgrid.network.constrained import plan_with_network   # imports the optimizer
    plan = plan_with_network(inputs, network)        # NetworkPlan: iterations, cost, what remains

Sign convention: the park's (power into the bus positive); the conversion to pandapower's element
conventions is :func:`microgrid.network.builder.element_powers`, nowhere else.
"""

from microgrid.network.builder import (
    ElementPowers,
    NetOptions,
    NetworkBuildError,
    asset_elements,
    build_net,
    element_powers,
)
from microgrid.network.check import CheckLimits, NetworkCheck, StepFailure, check_injections, check_schedule
from microgrid.network.park import ParkNetwork
from microgrid.network.powerflow import BatchPowerFlow, BatchSolution, FlowResults, Sensitivities
from microgrid.network.schedule import ScheduleError, read_schedule_csv, schedule_injections
from microgrid.network.std_types import register_std_types, transformer_std_types

__all__ = [
    "BatchPowerFlow",
    "BatchSolution",
    "CheckLimits",
    "ElementPowers",
    "FlowResults",
    "NetOptions",
    "NetworkBuildError",
    "NetworkCheck",
    "ParkNetwork",
    "ScheduleError",
    "Sensitivities",
    "StepFailure",
    "asset_elements",
    "build_net",
    "check_injections",
    "check_schedule",
    "element_powers",
    "read_schedule_csv",
    "register_std_types",
    "schedule_injections",
    "transformer_std_types",
]
