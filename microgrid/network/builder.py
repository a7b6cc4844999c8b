"""Site model → pandapower net, and the one place where the park sign convention meets pandapower's.

:func:`build_net` turns a validated :class:`~microgrid.site.Site` into a ``pandapowerNet``:

===================  =====================================================================================
site                 pandapower
===================  =====================================================================================
``grid``             ``ext_grid`` at the PCC bus (``vm_pu`` setpoint, short-circuit power and R/X kept for
                     short-circuit studies; for power flow it is the slack)
``network.buses``    ``bus`` (``name`` = site id)
``network.lines``    ``line`` from the pandapower catalogue std type, ``length_km``, ``parallel``;
                     ``max_loading_percent`` = the site's ``max_loading_pct``
``transformers``     ``trafo``: the named ``std_type`` (pandapower catalogue or
                     :mod:`microgrid.network.std_types`) or the site's nameplate parameters; Dyn11 → 330°
``switches``         ``switch`` (``et="l"`` at a line end, ``et="b"`` bus-bus); an open tie stays open
tenants              ``load`` (tenant base load, ``kind="tenant_load"``)
PV plants            ``sgen`` (``type="PV"``)
batteries            ``storage``
heat pumps           ``load`` (``kind="heat_pump"``)
flexible loads, EV   ``load`` (``kind="flexible_load"`` / ``"ev_depot"``)
===================  =====================================================================================

Every asset element carries ``asset_id`` (tenant id for a base load), ``kind`` and ``cos_phi`` columns.

Sign conventions. The park (DESIGN.md §3) counts the *net injection into the bus* positive: PV > 0,
battery discharge > 0 / charge < 0, loads < 0. pandapower counts ``load.p_mw`` and ``storage.p_mw`` as
consumption (storage charging > 0) and ``sgen.p_mw`` as generation. :func:`element_powers` is the only
conversion between the two. Reactive power: loads at ``cos_phi`` lagging (``q = p·tan φ``, default
0.95, i.e. 0.329 kvar per kW consumed), PV and batteries at unity power factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd

from microgrid.errors import UserError
from microgrid.network.std_types import register_std_types, shift_degree
from microgrid.site.models import Site

ASSET_TABLES = ("load", "sgen", "storage")
"""pandapower tables holding schedulable assets."""

LOAD_KINDS = ("tenant_load", "heat_pump", "flexible_load", "ev_depot")


class NetworkBuildError(UserError):
    """The site cannot be turned into a pandapower net (e.g. an unknown cable type)."""

    exit_code = 2


@dataclass(frozen=True)
class NetOptions:
    """Assumptions the site file does not state."""

    load_cos_phi: float = 0.95
    """Power factor of every load (lagging: reactive consumption ``q = p·tan(acos(cos_phi))``)."""
    ext_grid_vm_pu: float = 1.0
    """Voltage setpoint of the external grid at the PCC, per unit."""

    def __post_init__(self) -> None:
        if not 0 < self.load_cos_phi <= 1:
            raise UserError(f"load_cos_phi: {self.load_cos_phi:g} must lie in (0, 1]")
        if not 0.8 <= self.ext_grid_vm_pu <= 1.2:
            raise UserError(f"ext_grid_vm_pu: {self.ext_grid_vm_pu:g} must lie between 0.8 and 1.2")


def build_net(site: Site, options: NetOptions | None = None) -> pp.pandapowerNet:
    """Build the pandapower net of ``site``; raise :class:`NetworkBuildError` listing every problem.

    Asset powers start at zero except tenant base loads (``typical_load_kw``), so a first ``runpp`` works.
    """
    options = options or NetOptions()
    net = pp.create_empty_network(name=site.id, f_hz=50.0, sn_mva=1.0)
    register_std_types(net)
    problems: list[str] = []
    bus = {b.id: pp.create_bus(net, vn_kv=b.vn_kv, name=b.id) for b in site.network.buses}
    grid = site.grid
    pp.create_ext_grid(net, bus[grid.bus], vm_pu=options.ext_grid_vm_pu, name="grid",
                       s_sc_max_mva=grid.short_circuit_mva, s_sc_min_mva=grid.short_circuit_mva,
                       rx_max=grid.r_x_ratio, rx_min=grid.r_x_ratio)
    line_idx = _add_lines(net, site, bus, problems)
    _add_transformers(net, site, bus, problems)
    for i, sw in enumerate(site.network.switches):
        if sw.kind == "line":
            if sw.element in line_idx:
                pp.create_switch(net, bus[sw.bus], line_idx[sw.element], et="l", closed=sw.closed, name=sw.id)
        elif sw.element in bus:
            pp.create_switch(net, bus[sw.bus], bus[sw.element], et="b", closed=sw.closed, name=sw.id)
        else:
            problems.append(f"network.switches[{i}].element: unknown bus '{sw.element}'")
    if problems:
        raise NetworkBuildError(f"site '{site.id}': cannot build the network ({len(problems)} problem(s))", problems)
    _add_assets(net, site, bus, options)
    return net


def _add_lines(net: pp.pandapowerNet, site: Site, bus: dict[str, int], problems: list[str]) -> dict[str, int]:
    catalogue = pp.available_std_types(net, "line").index
    idx = {}
    for i, line in enumerate(site.network.lines):
        if line.std_type not in catalogue:
            close = [name for name in catalogue if "kV" in name and line.std_type.split(" ")[0] in name][:3]
            hint = f" (e.g. {', '.join(repr(c) for c in close)})" if close else ""
            problems.append(f"network.lines[{i}].std_type: '{line.std_type}' is not a pandapower line type{hint}")
            continue
        idx[line.id] = pp.create_line(net, bus[line.from_bus], bus[line.to_bus], length_km=line.length_km,
                                      std_type=line.std_type, name=line.id, parallel=line.parallel,
                                      max_loading_percent=line.max_loading_pct)
    return idx


def _add_transformers(net: pp.pandapowerNet, site: Site, bus: dict[str, int], problems: list[str]) -> None:
    catalogue = pp.available_std_types(net, "trafo").index
    for i, tr in enumerate(site.network.transformers):
        hv, lv = bus[tr.hv_bus], bus[tr.lv_bus]
        if tr.std_type is not None:
            if tr.std_type not in catalogue:
                problems.append(f"network.transformers[{i}].std_type: '{tr.std_type}' is not a known transformer "
                                f"type (known: {', '.join(sorted(catalogue))}); or omit it and give the nameplate")
                continue
            pp.create_transformer(net, hv, lv, std_type=tr.std_type, name=tr.id,
                                  max_loading_percent=tr.max_loading_pct)
            continue
        try:
            shift = shift_degree(tr.vector_group)
        except ValueError as exc:
            problems.append(f"network.transformers[{i}].vector_group: {exc}")
            continue
        pp.create_transformer_from_parameters(
            net, hv, lv, sn_mva=tr.sn_kva / 1000, vn_hv_kv=tr.vn_hv_kv, vn_lv_kv=tr.vn_lv_kv,
            vkr_percent=tr.vkr_percent, vk_percent=tr.vk_percent, pfe_kw=tr.pfe_kw, i0_percent=tr.i0_percent,
            shift_degree=shift, vector_group=tr.vector_group, name=tr.id, max_loading_percent=tr.max_loading_pct)


def _add_assets(net: pp.pandapowerNet, site: Site, bus: dict[str, int], options: NetOptions) -> None:
    cos_phi = options.load_cos_phi
    tan_phi = math.tan(math.acos(cos_phi))
    loads: list[tuple[str, str, str, float]] = [(t.id, "tenant_load", t.bus, t.typical_load_kw) for t in site.tenants]
    loads += [(h.id, "heat_pump", h.bus, 0.0) for h in site.assets.heat_pumps]
    loads += [(f.id, "flexible_load", f.bus, 0.0) for f in site.assets.flexible_loads]
    loads += [(e.id, "ev_depot", e.bus, 0.0) for e in site.assets.ev_depots]
    for asset_id, _kind, bus_id, p_kw in loads:
        pp.create_load(net, bus[bus_id], p_mw=p_kw / 1000, q_mvar=p_kw / 1000 * tan_phi, name=asset_id)
    net.load["asset_id"] = [x[0] for x in loads]
    net.load["kind"] = [x[1] for x in loads]
    net.load["cos_phi"] = cos_phi
    for pv in site.assets.pv:
        pp.create_sgen(net, bus[pv.bus], p_mw=0.0, q_mvar=0.0, sn_mva=pv.inverter_ac_kw / 1000, name=pv.id, type="PV")
    net.sgen["asset_id"] = [pv.id for pv in site.assets.pv]
    net.sgen["kind"] = "pv"
    net.sgen["cos_phi"] = 1.0
    for b in site.assets.batteries:
        pp.create_storage(net, bus[b.bus], p_mw=0.0, max_e_mwh=b.e_kwh / 1000, q_mvar=0.0,
                          sn_mva=max(b.p_charge_max_kw, b.p_discharge_max_kw) / 1000, soc_percent=b.soc_initial_pct,
                          min_e_mwh=b.e_kwh * b.soc_min_pct / 100 / 1000, name=b.id)
    net.storage["asset_id"] = [b.id for b in site.assets.batteries]
    net.storage["kind"] = "battery"
    net.storage["cos_phi"] = 1.0
    for table in ASSET_TABLES:
        net[table]["asset_id"] = net[table]["asset_id"].astype(object)
        net[table]["kind"] = net[table]["kind"].astype(object)
        net[table]["cos_phi"] = net[table]["cos_phi"].astype(float)


def asset_elements(net: pp.pandapowerNet) -> pd.DataFrame:
    """One row per schedulable asset: ``table``, ``element`` (index), ``bus`` (pandapower index), ``kind``,
    ``cos_phi``; indexed by asset id (tenant id for a base load)."""
    frames = []
    for table in ASSET_TABLES:
        df = net[table]
        if "asset_id" not in df.columns or df.empty:
            continue
        frames.append(pd.DataFrame({"table": table, "element": df.index.to_numpy(), "bus": df["bus"].to_numpy(),
                                    "kind": df["kind"].to_numpy(), "cos_phi": df["cos_phi"].to_numpy()},
                                   index=pd.Index(df["asset_id"].to_numpy(), name="asset_id")))
    return pd.concat(frames) if frames else pd.DataFrame(columns=["table", "element", "bus", "kind", "cos_phi"])


@dataclass
class ElementPowers:
    """pandapower setpoints per asset table: ``p_mw[table]`` and ``q_mvar[table]``, arrays (steps × elements)
    ordered like the table's index, in pandapower's convention (load/storage consume, sgen generates)."""

    p_mw: dict[str, np.ndarray]
    q_mvar: dict[str, np.ndarray]

    @property
    def n_steps(self) -> int:
        return next(iter(self.p_mw.values())).shape[0] if self.p_mw else 0


def reactive_ratio(kind: str, cos_phi: float) -> float:
    """Reactive injection per unit of active injection (park convention) of an asset: ``tan φ`` for loads
    (a load consuming P also consumes P·tan φ), 0 for PV and batteries."""
    return math.tan(math.acos(cos_phi)) if kind in LOAD_KINDS else 0.0


def element_powers(net: pp.pandapowerNet, injections_kw: pd.DataFrame) -> ElementPowers:
    """Park-convention net injections (kW, one column per asset id, one row per step) → pandapower setpoints.

    The single conversion of signs: ``load.p_mw = -p_inj/1000`` (consumption), ``storage.p_mw =
    -p_inj/1000`` (charging > 0), ``sgen.p_mw = +p_inj/1000``; ``load.q_mvar = load.p_mw · tan φ``.
    Assets missing from ``injections_kw`` raise ``KeyError``.
    """
    p_out: dict[str, np.ndarray] = {}
    q_out: dict[str, np.ndarray] = {}
    n = len(injections_kw)
    for table in ASSET_TABLES:
        df = net[table]
        if df.empty or "asset_id" not in df.columns:
            p_out[table] = np.zeros((n, len(df)))
            q_out[table] = np.zeros((n, len(df)))
            continue
        inj_mw = injections_kw[list(df["asset_id"])].to_numpy(dtype=float) / 1000.0
        if table == "sgen":
            p = inj_mw
        else:  # load and storage: pandapower counts consumption / charging positive
            p = -inj_mw
        tan_phi = np.array([reactive_ratio(k, c) for k, c in zip(df["kind"], df["cos_phi"], strict=True)])
        p_out[table] = p
        q_out[table] = p * tan_phi[None, :]
    return ElementPowers(p_out, q_out)


def apply_step(net: pp.pandapowerNet, powers: ElementPowers, step: int) -> None:
    """Write step ``step`` of ``powers`` into the net's element tables (for ``pp.runpp``)."""
    for table in ASSET_TABLES:
        if len(net[table]):
            net[table]["p_mw"] = powers.p_mw[table][step]
            net[table]["q_mvar"] = powers.q_mvar[table][step]
