"""Capability adapters, one module per map family, and the registry that picks one for an asset.

An adapter is chosen by the capability kind and the register maps of the asset's devices (by role):

=================  ==========================================  ==============================
kind               maps (role: map)                            adapter
=================  ==========================================  ==============================
meter              main: acrel_dtsd1352                        :class:`AcrelDtsd1352Meter`
meter              main: chint_dtsu666                         :class:`ChintDtsu666Meter`
pv_inverter        main: sunspec_inverter                      :class:`SunSpecPVInverter`
pv_inverter        main: huawei_sun2000            :class:`HuaweiPVInverter`
pv_inverter        main: sungrow_sg                            :class:`SungrowSGInverter`
storage            main: sunspec_battery                       :class:`SunSpecStorage`
storage            main: sunspec_battery_legacy                :class:`SunSpecLegacyStorage`
storage            main: sungrow_sh                            :class:`SungrowSHStorage`
storage            main: growatt_sph                           :class:`GrowattHybridStorage`
storage            main: huawei_sun2000            :class:`HuaweiStorage`
storage            pcs: cn_pcs + bms: cn_bms                   :class:`CnPcsBmsStorage`
heat_pump          main: heat_pump_controller                  :class:`HeatPumpController`
flexible_load      main: flex_load_controller                  :class:`FlexLoadController`
any (profile)      main: any map with a ``profile``            :mod:`drivers.adapters.profile`
=================  ==========================================  ==============================
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.adapters.base import Adapter, AssetLimits, ControlOptions
from drivers.adapters.cn_storage import CnPcsBmsStorage
from drivers.adapters.growatt import GrowattHybridStorage
from drivers.adapters.huawei import HuaweiPVInverter, HuaweiStorage
from drivers.adapters.loads import FlexLoadController, HeatPumpController
from drivers.adapters.meters import AcrelDtsd1352Meter, ChintDtsu666Meter
from drivers.adapters.profile import PROFILE_ADAPTERS
from drivers.adapters.sungrow import SungrowSGInverter, SungrowSHStorage
from drivers.adapters.sunspec import SunSpecLegacyStorage, SunSpecPVInverter, SunSpecStorage
from drivers.capabilities import CapabilityKind
from drivers.errors import DriverConfigError
from drivers.registermap import load_map

ADAPTERS: tuple[type[Adapter], ...] = (
    AcrelDtsd1352Meter,
    ChintDtsu666Meter,
    SunSpecPVInverter,
    HuaweiPVInverter,
    SungrowSGInverter,
    SunSpecStorage,
    SunSpecLegacyStorage,
    SungrowSHStorage,
    GrowattHybridStorage,
    HuaweiStorage,
    CnPcsBmsStorage,
    HeatPumpController,
    FlexLoadController,
)


def adapter_class(kind: CapabilityKind | str, maps_by_role: Mapping[str, str]) -> type[Adapter]:
    """The adapter for ``kind`` whose roles and maps equal ``maps_by_role``, else the profile adapter of a
    single ``main`` map that carries a profile of that kind; :class:`DriverConfigError` if none."""
    kind = CapabilityKind(kind)
    wanted = dict(maps_by_role)
    for cls in ADAPTERS:
        if cls.kind is kind and cls.maps == wanted:
            return cls
    if set(wanted) == {"main"}:
        profile = load_map(wanted["main"]).profile
        if profile is not None and profile.kind == kind.value:
            return PROFILE_ADAPTERS[profile.kind]
    err = DriverConfigError.of("uerr.no_adapter", kind=kind.value, maps=str(wanted))
    for c in ADAPTERS:
        err.with_problem("uerr.adapter_supported", adapter=f"{c.kind.value}: {c.maps}")
    raise err.with_problem("uerr.adapter_supported_profile")


__all__ = [
    "ADAPTERS",
    "AcrelDtsd1352Meter",
    "Adapter",
    "AssetLimits",
    "ChintDtsu666Meter",
    "CnPcsBmsStorage",
    "ControlOptions",
    "FlexLoadController",
    "GrowattHybridStorage",
    "HeatPumpController",
    "HuaweiPVInverter",
    "HuaweiStorage",
    "SunSpecLegacyStorage",
    "SunSpecPVInverter",
    "SunSpecStorage",
    "SungrowSGInverter",
    "SungrowSHStorage",
    "adapter_class",
]
