"""Which semantics class serves which register map (one small module per map family)."""

from __future__ import annotations

import logging

from drivers.registermap import RegisterMap
from microgrid.site.models import Device
from sim.devices.base import DeviceModel
from sim.devices.cn_storage import CnBms, CnPcs
from sim.devices.flex import FlexLoadController
from sim.devices.growatt import GrowattHybrid
from sim.devices.heat_pump import HeatPumpController
from sim.devices.huawei import HuaweiPlant
from sim.devices.meters import AcrelDTSD1352, ChintDTSU666
from sim.devices.profile import PROFILE_DEVICES
from sim.devices.sungrow import SungrowSG, SungrowSH
from sim.devices.sunspec import SunSpecBattery, SunSpecInverter
from sim.devices.sunspec124 import SunSpecLegacyBattery

log = logging.getLogger(__name__)

FAMILIES: dict[str, type[DeviceModel]] = {
    "sunspec_inverter": SunSpecInverter,
    "sunspec_battery": SunSpecBattery,
    "sunspec_battery_legacy": SunSpecLegacyBattery,
    "huawei_sun2000": HuaweiPlant,
    "sungrow_sg": SungrowSG,
    "sungrow_sh": SungrowSH,
    "growatt_sph": GrowattHybrid,
    "cn_pcs": CnPcs,
    "cn_bms": CnBms,
    "heat_pump_controller": HeatPumpController,
    "flex_load_controller": FlexLoadController,
    "acrel_dtsd1352": AcrelDTSD1352,
    "chint_dtsu666": ChintDTSU666,
}


def device_class(device: Device, rmap: RegisterMap) -> type[DeviceModel]:
    """The semantics class for a device's map (a family, else its profile); others serve plain registers."""
    cls = FAMILIES.get(rmap.name)
    if cls is None and rmap.profile is not None:
        return PROFILE_DEVICES[rmap.profile.kind]
    if cls is None:
        log.warning(
            "map %s has no simulator semantics: device %s serves its defaults only", rmap.name, device.id
        )
        return DeviceModel
    return cls
