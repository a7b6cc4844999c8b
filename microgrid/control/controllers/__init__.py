"""Pure real-time controllers: dataclass inputs → setpoints, one call per control cycle."""

from microgrid.control.controllers.allocate import (
    Slot,
    equal_percentage_limits,
    intersect,
    ramp_window,
    share_by_headroom,
    share_in_tiers,
)
from microgrid.control.controllers.balance import balance, pcc_band_kw
from microgrid.control.controllers.loads import load_setpoints
from microgrid.control.controllers.safe import safe_pv_cap_kw, safe_state
from microgrid.control.controllers.types import (
    ControlInputs,
    ControllerConfig,
    GridLimits,
    PVUnit,
    Setpoints,
    StorageUnit,
)

__all__ = [
    "ControlInputs",
    "ControllerConfig",
    "GridLimits",
    "PVUnit",
    "Setpoints",
    "Slot",
    "StorageUnit",
    "balance",
    "equal_percentage_limits",
    "intersect",
    "load_setpoints",
    "pcc_band_kw",
    "ramp_window",
    "safe_pv_cap_kw",
    "safe_state",
    "share_by_headroom",
    "share_in_tiers",
]
