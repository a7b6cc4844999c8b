"""Building a fleet from a site: links shared per host:port, one capability per asset, PCS + BMS as one
storage, limits from the site file, clear errors for what cannot be driven (no network needed)."""

from __future__ import annotations

import pytest

from drivers.adapters import CnPcsBmsStorage, HuaweiPVInverter, SunSpecPVInverter, adapter_class
from drivers.capabilities import CapabilityKind, PVSetpoint, StorageSetpoint
from drivers.errors import DriverConfigError, UnknownPointError
from drivers.fleet import Fleet
from drivers.safewrite import WriteStatus
from drivers.site_config import fleet_config_from_site
from tests.drivers.conftest import run, with_devices


def test_reference_park_fleet_structure(reference_site):
    fleet = Fleet.from_site(reference_site)
    assert len(fleet.devices) == 23 and len(fleet.transports) == 12
    chint = fleet.transports["127.0.0.1:15021"]
    assert {fleet.devices[f"dev_meter_{t}"].transport for t in ("shoes", "food", "rnd")} == {chint}
    assert len(fleet.capabilities) == 22  # the PCS and the BMS serve one storage
    ess = fleet.capabilities["ess_shared"]
    assert isinstance(ess, CnPcsBmsStorage) and {d.device_id for d in ess.devices} == {"dev_ess_pcs", "dev_ess_bms"}
    assert isinstance(fleet.capabilities["pv_shoes"], HuaweiPVInverter)
    assert isinstance(fleet.capabilities["pv_food"], SunSpecPVInverter)
    assert set(fleet.meters) == {"meter_pcc", *(f"meter_{t}" for t in ("shoes", "electronics", "food", "coatings", "rnd", "logistics"))}
    assert len(fleet.storages) == 2 and len(fleet.heat_pumps) == 2 and len(fleet.flexible_loads) == 5
    # limits from the site file; the SmartLogger's connect delay and the slowest timeout on each link
    assert ess.limits.p_discharge_max_kw == 2500 and ess.limits.soc_min_pct == 10 and ess.limits.ramp_kw_per_s == 250
    assert fleet.capabilities["meter_pcc"].limits.pt_ratio == 100
    assert fleet.capabilities["ev_logistics"].limits.p_max_kw == 1200
    huawei = fleet.devices["dev_pv_shoes"].transport.settings
    assert (huawei.connect_delay_s, huawei.timeout_s) == (1.5, 3.0)
    assert fleet.options.pv_fallback_limit_pct == 0.0  # zero-export site


def test_what_cannot_be_driven_is_reported_clearly(reference_site):
    two_mains = with_devices(reference_site, dev_pv_coatings={"serves": "pv_electronics"})
    with pytest.raises(DriverConfigError) as info:
        fleet_config_from_site(two_mains)
    assert "pv_electronics: more than one main device (dev_pv_electronics, dev_pv_coatings)" in str(info.value)
    with pytest.raises(DriverConfigError, match="no driver adapter for a storage served by"):
        adapter_class(CapabilityKind.STORAGE, {"main": "sungrow_sg"})


def test_apply_refuses_a_setpoint_of_the_wrong_kind_and_unknown_assets(reference_site, audit_log):
    async def body():
        fleet = Fleet.from_site(reference_site, audit=audit_log.append)
        results = await fleet.apply({"pv_food": StorageSetpoint(10.0)})
        (r,) = results["pv_food"]
        assert r.status is WriteStatus.REFUSED and "does not apply to a pv_inverter" in r.message
        assert audit_log == [r]
        with pytest.raises(UnknownPointError, match="unknown asset 'pv_nowhere'"):
            await fleet.apply({"pv_nowhere": PVSetpoint(1.0)})
        with pytest.raises(UnknownPointError, match="has no point 'p_nothing'"):
            await fleet.write_point("dev_pv_food", "p_nothing", 1)
        await fleet.close()

    run(body())
