"""Per-interval accounting: where every kWh came from and went, for the park and each tenant.

Pure functions over the interval table (:mod:`microgrid.reports.table`); the maths is in docs/reports.md.
For each interval ``t`` (kWh, all >= 0): import ``I``, export ``X``, PV ``G``, curtailed PV ``U``,
battery charge ``C`` and discharge ``D`` (all batteries of the park).

- consumption ``E = I − X + G`` (the denominator of the green-power ratio; includes storage losses and
  the change of stored energy) and end-use load ``L = E − C + D``;
- export is attributed to PV first, then to battery discharge, then to grid energy passing through:
  ``x_pv = min(X, G)``, ``x_bat = min(X − x_pv, D)``;
- PV kept on site charges the batteries first, the rest serves the load: ``g_bat = min(G − x_pv, C)``,
  ``g_load = G − x_pv − g_bat``;
- the batteries form one pool whose renewable share ``γ`` is tracked (charged PV in, discharges out in
  proportion, round-trip losses spread evenly), so stored PV that is later exported is taken off again:
  on-site renewable consumption ``S = g_load + g_bat − γ · x_bat``;
- certificates: only the retained share ``r`` of ``S`` counts as green; ``(1 − r) · S`` was consumed but
  its attributes were sold.

Every PV kWh is counted once: ``G = x_pv + g_bat + g_load``, and ``Σ S + Σ γ·x_bat = Σ (g_load + g_bat)``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from microgrid.accounting.rules import GreenInstruments
from microgrid.reports.table import PARK, PARK_REQUIRED, IntervalTable

AllocationRule = Literal["consumption", "own_pv_first"]
EPS = 1e-9

LEDGER_COLUMNS = (
    "valid", "coverage", "consumption_kwh", "load_kwh", "import_kwh", "export_kwh", "pv_kwh", "pv_curtailed_kwh",
    "pv_export_kwh", "pv_self_kwh", "green_physical_kwh", "bat_charge_kwh", "bat_discharge_kwh",
    "trading_kwh", "direct_kwh", "certificates_kwh",
    "cf_import_kwh", "cf_export_kwh", "cf_consumption_kwh", "cf_green_physical_kwh", "cf_pv_curtailed_kwh",
)
"""Columns of a ledger (one row per interval, for the park or one tenant). ``pv_self_kwh`` is the entity's
own generation consumed in the park (generation side); ``green_physical_kwh`` the on-site renewable energy
in the entity's consumption (consumption side, before certificates); ``cf_*`` the counterfactual without
storage and optimisation."""


def park_ledger(park: pd.DataFrame, *, min_coverage: float, round_trip_efficiency: float,
                export_cap_kwh: float, instruments: pd.DataFrame) -> pd.DataFrame:
    """The park's ledger from its interval rows (indexed by ``ts``); see the module docstring.

    ``export_cap_kwh`` is the export limit × interval length, for the counterfactual.
    """
    valid = (park["coverage"] >= min_coverage) & park[list(PARK_REQUIRED)].notna().all(axis=1)
    z = park.where(valid, np.nan)
    imp, exp, gen = z["import_kwh"], z["export_kwh"], z["pv_kwh"]
    cur = z["pv_curtailed_kwh"].fillna(0.0).where(valid)
    ch, dis = z["bat_charge_kwh"], z["bat_discharge_kwh"]
    consumption = imp - exp + gen
    load = consumption - ch + dis

    x_pv = np.minimum(exp, gen)
    x_bat = np.minimum(exp - x_pv, dis)
    g_bat = np.minimum(gen - x_pv, ch)
    g_load = gen - x_pv - g_bat
    gamma = _pool_share(g_bat.to_numpy(), ch.to_numpy(), dis.to_numpy(), x_bat.to_numpy(),
                        valid.to_numpy(), round_trip_efficiency)
    green = g_load + g_bat - gamma * x_bat

    # Counterfactual: same load and PV, no batteries, curtailment added back, export capped.
    avail = gen + cur
    surplus = avail - load
    cf_import = np.maximum(-surplus, 0.0)
    cf_export = np.minimum(np.maximum(surplus, 0.0), export_cap_kwh)
    cf_curtailed = np.maximum(surplus, 0.0) - cf_export

    ledger = pd.DataFrame({
        "valid": valid, "coverage": park["coverage"], "consumption_kwh": consumption, "load_kwh": load,
        "import_kwh": imp, "export_kwh": exp, "pv_kwh": gen, "pv_curtailed_kwh": cur, "pv_export_kwh": x_pv,
        "pv_self_kwh": gen - x_pv, "green_physical_kwh": green, "bat_charge_kwh": ch, "bat_discharge_kwh": dis,
        "cf_import_kwh": cf_import, "cf_export_kwh": cf_export, "cf_consumption_kwh": load,
        "cf_green_physical_kwh": np.minimum(avail, load), "cf_pv_curtailed_kwh": cf_curtailed,
    }, index=park.index)
    for col in ("trading_kwh", "direct_kwh", "certificates_kwh"):
        ledger[col] = instruments[col].reindex(park.index).where(valid)
    ledger["gamma"] = gamma
    ledger["bat_stored_start_kwh"] = park["bat_stored_start_kwh"]
    ledger["bat_stored_end_kwh"] = park["bat_stored_end_kwh"]
    return ledger


def _pool_share(g_bat: np.ndarray, charge: np.ndarray, discharge: np.ndarray, x_bat: np.ndarray,
                valid: np.ndarray, rte: float) -> np.ndarray:
    """Renewable share ``γ`` of the stored energy at the start of each interval.

    The pool holds AC-charge equivalents: charging adds ``C`` (of which ``g_bat`` renewable, plus the
    pool's own share of energy moved battery-to-battery); a discharge ``D`` takes ``D / rte`` out, renewable
    in proportion. Energy stored before the period has unknown origin and counts as non-renewable.
    """
    n = len(charge)
    gamma = np.zeros(n)
    q_total = q_green = 0.0
    for t in range(n):
        share = q_green / q_total if q_total > EPS else 0.0
        gamma[t] = share
        if not valid[t]:
            continue
        out = discharge[t] / rte if rte > 0 else discharge[t]
        # Battery-to-battery within the interval (one charges while another discharges), beyond grid/PV.
        internal = max(min(charge[t] - g_bat[t], discharge[t] - x_bat[t]), 0.0)
        q_green = max(q_green - share * out, 0.0) + g_bat[t] + share * internal
        q_total = max(q_total - out, 0.0) + charge[t]
        q_green = min(q_green, q_total)
    return gamma


# ---- tenants ---------------------------------------------------------------------------------------------
def tenant_ledgers(table: IntervalTable, park: pd.DataFrame, *, min_coverage: float, rule: AllocationRule
                   ) -> dict[str, pd.DataFrame]:
    """Allocate the park ledger to the tenants, interval by interval; every column sums to the park's.

    - consumption: each tenant's metered load plus its own battery's net charge, plus a share of the park
      overhead (network losses and shared storage) pro rata to its load;
    - on-site renewable energy (and its counterfactual): pro rata to consumption (``rule="consumption"``),
      or first to the tenant whose PV produced it, capped at its consumption, the rest pro rata to the
      remaining consumption (``rule="own_pv_first"``);
    - grid import: pro rata to the consumption not covered by on-site renewables;
    - PV generation, export and curtailment: the tenant's own plants plus a consumption share of shared
      plants; shared storage throughput and green purchases: pro rata to consumption.

    An interval is valid for the tenants only when the park and every tenant row are valid.
    """
    tenants = table.tenants
    if not tenants:
        return {}
    rows = {k: table.entity(k) for k in tenants}
    valid = park["valid"].copy()
    for k in tenants:
        valid &= (rows[k]["coverage"] >= min_coverage) & rows[k]["load_kwh"].notna()
    idx = park.index
    P = park.where(valid, np.nan)

    def col(k: str, name: str) -> pd.Series:
        return rows[k][name].fillna(0.0).where(valid)

    load = pd.DataFrame({k: col(k, "load_kwh").clip(lower=0.0) for k in tenants}, index=idx)
    own_ch = pd.DataFrame({k: col(k, "bat_charge_kwh") for k in tenants}, index=idx)
    own_dis = pd.DataFrame({k: col(k, "bat_discharge_kwh") for k in tenants}, index=idx)
    own_gen = pd.DataFrame({k: col(k, "pv_kwh") for k in tenants}, index=idx)
    own_cur = pd.DataFrame({k: col(k, "pv_curtailed_kwh") for k in tenants}, index=idx)

    w = _weights(load)
    own_net = own_ch - own_dis
    overhead = P["consumption_kwh"] - (load + own_net).sum(axis=1)
    consumption = load + own_net + w.mul(overhead, axis=0)
    end_use = load + w.mul(P["load_kwh"] - load.sum(axis=1), axis=0)  # network losses pro rata
    cf_consumption = load + w.mul(P["cf_consumption_kwh"] - load.sum(axis=1), axis=0)

    shared_gen = P["pv_kwh"] - own_gen.sum(axis=1)
    gen = own_gen + w.mul(shared_gen, axis=0)
    gen_share = _weights(gen, fallback=w)
    shared_cur = P["pv_curtailed_kwh"] - own_cur.sum(axis=1)
    curtailed = own_cur + w.mul(shared_cur, axis=0)
    pv_export = gen_share.mul(P["pv_export_kwh"], axis=0)
    export = pv_export + w.mul(P["export_kwh"] - P["pv_export_kwh"], axis=0)

    green = _allocate_green(P["green_physical_kwh"], consumption, gen_share, w, rule)
    cf_avail_share = _weights(own_gen + own_cur + w.mul(shared_gen + shared_cur, axis=0), fallback=w)
    cf_green = _allocate_green(P["cf_green_physical_kwh"], cf_consumption, cf_avail_share, w, rule)
    imp = _weights((consumption - green).clip(lower=0.0), fallback=w).mul(P["import_kwh"], axis=0)
    cf_imp = _weights((cf_consumption - cf_green).clip(lower=0.0), fallback=w).mul(P["cf_import_kwh"], axis=0)
    cf_exp = cf_avail_share.mul(P["cf_export_kwh"], axis=0)
    cf_cur = cf_avail_share.mul(P["cf_pv_curtailed_kwh"], axis=0)

    shared_ch = P["bat_charge_kwh"] - own_ch.sum(axis=1)
    shared_dis = P["bat_discharge_kwh"] - own_dis.sum(axis=1)
    out: dict[str, pd.DataFrame] = {}
    for k in tenants:
        coverage = np.minimum(rows[k]["coverage"], park["coverage"])
        out[k] = pd.DataFrame({
            "valid": valid, "coverage": coverage, "consumption_kwh": consumption[k], "load_kwh": end_use[k],
            "import_kwh": imp[k], "export_kwh": export[k], "pv_kwh": gen[k], "pv_curtailed_kwh": curtailed[k],
            "pv_export_kwh": pv_export[k], "pv_self_kwh": gen[k] - pv_export[k], "green_physical_kwh": green[k],
            "bat_charge_kwh": own_ch[k] + w[k] * shared_ch, "bat_discharge_kwh": own_dis[k] + w[k] * shared_dis,
            "trading_kwh": w[k] * P["trading_kwh"], "direct_kwh": w[k] * P["direct_kwh"],
            "certificates_kwh": w[k] * P["certificates_kwh"],
            "cf_import_kwh": cf_imp[k], "cf_export_kwh": cf_exp[k], "cf_consumption_kwh": cf_consumption[k],
            "cf_green_physical_kwh": cf_green[k], "cf_pv_curtailed_kwh": cf_cur[k],
            "estimated": rows[k]["estimated"],
        }, index=idx)
    return out


def _weights(frame: pd.DataFrame, fallback: pd.DataFrame | None = None) -> pd.DataFrame:
    """Row-normalised non-negative weights; rows summing to zero take ``fallback`` (else equal shares)."""
    values = frame.clip(lower=0.0)
    total = values.sum(axis=1)
    out = values.div(total.where(total > EPS), axis=0)
    empty = ~(total > EPS)
    if empty.any():
        if fallback is not None:
            out.loc[empty] = fallback.loc[empty].to_numpy()
        else:
            out.loc[empty] = 1.0 / frame.shape[1]
    return out.where(frame.notna().all(axis=1))


def _allocate_green(green: pd.Series, consumption: pd.DataFrame, gen_share: pd.DataFrame, w: pd.DataFrame,
                    rule: AllocationRule) -> pd.DataFrame:
    if rule == "consumption":
        return w.mul(green, axis=0)
    if rule != "own_pv_first":
        raise ValueError(f"allocation rule '{rule}' is not known; use 'consumption' or 'own_pv_first'")
    room = consumption.clip(lower=0.0)
    first = np.minimum(gen_share.mul(green.clip(lower=0.0), axis=0), room)
    rest = green - first.sum(axis=1)
    headroom = (room - first).clip(lower=0.0)
    second = _weights(headroom, fallback=w).mul(rest, axis=0)
    out = first + second
    negative = green < 0  # stored PV exported later: take it back pro rata to consumption
    out.loc[negative] = w.loc[negative].mul(green[negative], axis=0)
    return out


def entity_ledgers(table: IntervalTable, *, min_coverage: float, round_trip_efficiency: float,
                   export_limit_kw: float, instruments: GreenInstruments, rule: AllocationRule
                   ) -> dict[str, pd.DataFrame]:
    """Ledgers of the park (key ``"park"``) and every tenant."""
    park_rows = table.entity(PARK)
    per_interval = instruments.per_interval(park_rows.index, table.interval_min)
    park = park_ledger(park_rows, min_coverage=min_coverage, round_trip_efficiency=round_trip_efficiency,
                       export_cap_kwh=export_limit_kw * table.step_h, instruments=per_interval)
    out = {PARK: park}
    out.update(tenant_ledgers(table, park, min_coverage=min_coverage, rule=rule))
    return out
