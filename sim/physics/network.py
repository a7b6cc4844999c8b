"""What the meters see: a lossless power balance, or an AC power flow with pandapower when asked.

Sign: an injection is power flowing *into* a bus from an asset (park convention; loads inject negative
power). A meter's forward direction is towards its metered side, so

- the PCC meter reads ``import = -Σ injections`` (+ network losses with pandapower),
- a tenant meter reads ``-Σ injections of that tenant's assets and base load``,
- an asset meter reads ``-injection of that asset`` (a PV plant reads negative).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from microgrid.site.models import Site


@dataclass(frozen=True)
class Injection:
    """One flow into the park bus, kW (park sign)."""

    source: str
    """Asset id, or ``load_<tenant>`` for a tenant's base load."""
    bus: str
    tenant: str | None
    p_kw: float


@dataclass
class NetworkResult:
    pcc_import_kw: float
    losses_kw: float = 0.0
    bus_vm_pu: dict[str, float] = field(default_factory=dict)


def balance(injections: Iterable[Injection]) -> NetworkResult:
    """Lossless balance: the PCC imports what the park's assets and loads do not supply."""
    return NetworkResult(pcc_import_kw=-sum(i.p_kw for i in injections))


def tenant_forward_kw(injections: Iterable[Injection], tenant: str) -> float:
    """Power flowing from the park network into one tenant, kW (> 0 = the tenant consumes)."""
    return -sum(i.p_kw for i in injections if i.tenant == tenant)


class PandapowerNetwork:
    """The site's network as a pandapower net with one net-load element per bus, solved on demand."""

    def __init__(self, site: Site) -> None:
        import pandapower as pp

        self._pp = pp
        net = pp.create_empty_network(name=site.id)
        self.bus_index: dict[str, int] = {}
        for bus in site.network.buses:
            self.bus_index[bus.id] = pp.create_bus(net, vn_kv=bus.vn_kv, name=bus.id)
        grid = site.grid
        pp.create_ext_grid(
            net,
            self.bus_index[grid.bus],
            vm_pu=1.0,
            s_sc_max_mva=grid.short_circuit_mva,
            rx_max=grid.r_x_ratio,
            name="grid",
        )
        line_index: dict[str, int] = {}
        for line in site.network.lines:
            line_index[line.id] = pp.create_line(
                net,
                self.bus_index[line.from_bus],
                self.bus_index[line.to_bus],
                length_km=line.length_km,
                std_type=line.std_type,
                parallel=line.parallel,
                name=line.id,
            )
        for tx in site.network.transformers:
            pp.create_transformer_from_parameters(
                net,
                self.bus_index[tx.hv_bus],
                self.bus_index[tx.lv_bus],
                sn_mva=tx.sn_kva / 1000.0,
                vn_hv_kv=tx.vn_hv_kv,
                vn_lv_kv=tx.vn_lv_kv,
                vkr_percent=tx.vkr_percent,
                vk_percent=tx.vk_percent,
                pfe_kw=tx.pfe_kw,
                i0_percent=tx.i0_percent,
                shift_degree=150.0 if tx.vector_group.lower().endswith("11") else 0.0,
                name=tx.id,
            )
        for sw in site.network.switches:
            if sw.kind == "line":
                pp.create_switch(
                    net, self.bus_index[sw.bus], line_index[sw.element], et="l", closed=sw.closed, name=sw.id
                )
            else:
                pp.create_switch(
                    net,
                    self.bus_index[sw.bus],
                    self.bus_index[sw.element],
                    et="b",
                    closed=sw.closed,
                    name=sw.id,
                )
        self.load_index = {
            bus_id: pp.create_load(net, idx, p_mw=0.0, q_mvar=0.0, name=f"net_{bus_id}")
            for bus_id, idx in self.bus_index.items()
        }
        self.net = net

    def solve(self, injections: Iterable[Injection]) -> NetworkResult:
        """AC power flow (unity power factor) for the given injections; falls back to the balance on divergence."""
        injections = list(injections)
        per_bus: dict[str, float] = defaultdict(float)
        for inj in injections:
            per_bus[inj.bus] += inj.p_kw
        for bus_id, idx in self.load_index.items():
            self.net.load.at[idx, "p_mw"] = -per_bus.get(bus_id, 0.0) / 1000.0
        try:
            self._pp.runpp(self.net, init="results" if self.net.get("converged") else "auto", numba=False)
        except Exception:  # pandapower raises its own LoadflowNotConverged and numerical errors
            result = balance(injections)
            result.losses_kw = math.nan
            return result
        pcc = float(self.net.res_ext_grid.p_mw.sum()) * 1000.0
        consumption = -sum(per_bus.values())
        vm = {bus_id: float(self.net.res_bus.vm_pu.at[idx]) for bus_id, idx in self.bus_index.items()}
        return NetworkResult(pcc_import_kw=pcc, losses_kw=pcc - consumption, bus_vm_pu=vm)
