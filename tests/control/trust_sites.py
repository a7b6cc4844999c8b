"""Test sites for the trust-no-measurement tests: the small factory with a tenant meter (redundancy), float
meters (so +inf and 3e38 can reach the wire), a PCS + BMS pair, and readings built by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.capabilities import MeterReading, PVReading, StorageReading, StorageState
from drivers.health import Health
from microgrid.control.fleet import FleetReadings
from microgrid.site.models import Device, Meter, Site

T0 = datetime(2025, 7, 19, 3, 0, tzinfo=UTC)


def metered_site(small_site: Site, *, pv_ac_kw: float = 1000.0, import_cap_kw: float | None = None,
                 tenant_meter: bool = True, pcs_bms: bool = False, **control) -> Site:
    """The small site with ``pv_ac_kw`` of PV, float (Chint DTSU666) meters at the PCC and, optionally, on
    the factory feeder, optionally the battery on a Chinese PCS + BMS pair; ``control`` updates."""
    pv = small_site.assets.pv[0].model_copy(update={"kwp": pv_ac_kw * 1.2, "inverter_ac_kw": pv_ac_kw})
    assets = small_site.assets.model_copy(update={"pv": [pv]})
    meters = [Meter(id="meter_pcc", scope="pcc", bus="grid_10kv", pt_ratio=100, ct_ratio=20)]
    devices = [d for d in small_site.devices if d.role != "meter"]
    devices.append(Device(id="dev_meter_pcc", serves="meter_pcc", role="meter", map="chint_dtsu666",
                          host="127.0.0.1", port=15120, unit_id=1, poll_s=1))
    if tenant_meter:
        meters.append(Meter(id="meter_factory", scope="tenant", tenant="factory", bus="factory_lv", ct_ratio=400))
        devices.append(Device(id="dev_meter_factory", serves="meter_factory", role="meter", map="chint_dtsu666",
                              host="127.0.0.1", port=15124, unit_id=1, poll_s=1))
    if pcs_bms:
        devices = [d for d in devices if d.serves != "bat_factory"]
        devices += [Device(id="dev_pcs", serves="bat_factory", role="pcs", map="cn_pcs", host="127.0.0.1",
                           port=15123, unit_id=1, poll_s=1),
                    Device(id="dev_bms", serves="bat_factory", role="bms", map="cn_bms", host="127.0.0.1",
                           port=15123, unit_id=2, poll_s=1)]
    grid = small_site.grid
    if import_cap_kw is not None:
        grid = grid.model_copy(update={"declared_demand_kw": import_cap_kw})
    ctl = small_site.control.model_copy(update=control)
    return small_site.model_copy(update={"assets": assets, "meters": meters, "devices": devices, "grid": grid,
                                         "control": ctl})


def meter(meter_id: str, p_kw: float | None, ts: datetime = T0, valid: bool = True) -> MeterReading:
    return MeterReading(asset_id=meter_id, device_ids=(f"dev_{meter_id}",), timestamp=ts if valid else None,
                        age_s=0.0, stale=not valid, health=Health.ONLINE if valid else Health.OFFLINE, p_kw=p_kw)


def pv(asset_id: str, p_kw: float, ts: datetime = T0, state: str = "") -> PVReading:
    return PVReading(asset_id=asset_id, device_ids=("d",), timestamp=ts, age_s=0.0, stale=False,
                     health=Health.ONLINE, p_kw=p_kw, state=state)


def battery(asset_id: str, p_kw: float, ts: datetime = T0, *, soc: float | None = 50.0,
            state: StorageState = StorageState.RUNNING, alarms: tuple[str, ...] = ()) -> StorageReading:
    return StorageReading(asset_id=asset_id, device_ids=("d",), timestamp=ts, age_s=0.0, stale=False,
                          health=Health.ONLINE, p_kw=p_kw, soc_pct=soc, state=state, alarms=alarms)


def readings(pcc: float | None, factory: float | None, pv_kw: float, bat_kw: float,
             ts: datetime = T0) -> FleetReadings:
    meters = {"meter_pcc": meter("meter_pcc", pcc, ts, pcc is not None)}
    if factory is not None:
        meters["meter_factory"] = meter("meter_factory", factory, ts)
    return FleetReadings(meters=meters, pv={"pv_roof": pv("pv_roof", pv_kw, ts)},
                         storage={"bat_factory": battery("bat_factory", bat_kw, ts)})
