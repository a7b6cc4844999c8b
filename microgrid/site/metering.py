"""Metering topology: which loads and assets each meter sees, and who owns each asset.

A meter measures everything *downstream* of its point, seen from the grid connection: the network (lines,
transformers and closed switches; open switches cut it) is walked from the grid bus, and

- a meter at a ``bus`` (no element) sees that bus and every bus fed through it;
- a meter on a ``transformer`` or a ``line`` (a feeder) at one of its ends sees the element's far end and
  everything fed through it;
- the ``pcc`` meter sees the whole park.

Ownership: an asset belongs to the tenant named in its ``tenant`` field, else to the tenant of its bus
(``network.buses[].tenant`` or the tenant whose load bus it is); ``shared: true`` makes it the park's.
A tenant's consumption is determined when its meters together see its load and every asset it owns, and
see nothing owned by another tenant, with no bus under two of its meters (:func:`metering_problems`).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from functools import cached_property

from microgrid.site.models import Meter, Site


def load_point(tenant_id: str) -> str:
    """Id of a tenant's base load as a metered point (``load_<tenant>``)."""
    return f"load_{tenant_id}"


@dataclass(frozen=True)
class MeterView:
    """What one meter measures (forward = into its downstream side)."""

    meter: Meter
    buses: frozenset[str]
    loads: tuple[str, ...]
    """Tenants whose base load lies downstream."""
    assets: tuple[str, ...]
    """Assets (PV, storage, heat pumps, flexible loads, EV depots) downstream."""


@dataclass
class MeteringTopology:
    """The site's metering as data (see the module docstring)."""

    site: Site
    parent: dict[str, str | None] = field(init=False)
    """Bus → the bus it is fed from (``None`` for the grid bus and unreachable buses)."""
    meshed: bool = field(init=False)

    def __post_init__(self) -> None:
        graph: dict[str, set[str]] = defaultdict(set)
        net = self.site.network
        open_lines = {sw.element for sw in net.switches if sw.kind == "line" and not sw.closed}
        edges = 0
        for line in net.lines:
            if line.id not in open_lines:
                graph[line.from_bus].add(line.to_bus)
                graph[line.to_bus].add(line.from_bus)
                edges += 1
        for tx in net.transformers:
            graph[tx.hv_bus].add(tx.lv_bus)
            graph[tx.lv_bus].add(tx.hv_bus)
            edges += 1
        for sw in net.switches:
            if sw.kind == "bus" and sw.closed:
                graph[sw.bus].add(sw.element)
                graph[sw.element].add(sw.bus)
                edges += 1
        root = self.site.grid.bus
        self.parent = {root: None}
        queue = deque([root])
        while queue:
            bus = queue.popleft()
            for nxt in sorted(graph[bus]):
                if nxt not in self.parent:
                    self.parent[nxt] = bus
                    queue.append(nxt)
        self.meshed = edges > len(self.parent) - 1

    # ---- buses ------------------------------------------------------------------------------------
    @cached_property
    def children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for bus, parent in self.parent.items():
            if parent is not None:
                out[parent].append(bus)
        return out

    def subtree(self, bus: str) -> frozenset[str]:
        """``bus`` and every bus fed through it."""
        seen = {bus}
        queue = deque([bus])
        while queue:
            for nxt in self.children.get(queue.popleft(), []):
                seen.add(nxt)
                queue.append(nxt)
        return frozenset(seen)

    def depth(self, bus: str) -> int:
        d, cur = 0, self.parent.get(bus)
        while cur is not None:
            d, cur = d + 1, self.parent.get(cur)
        return d

    def _far_end(self, a: str, b: str) -> str:
        return b if self.depth(b) > self.depth(a) else a

    def meter_buses(self, meter: Meter) -> frozenset[str]:
        """Buses downstream of a meter's point."""
        if meter.scope == "pcc":
            return frozenset(self.parent)
        if meter.transformer is not None:
            tx = next((t for t in self.site.network.transformers if t.id == meter.transformer), None)
            if tx is not None:
                return self.subtree(self._far_end(tx.hv_bus, tx.lv_bus))
        if meter.line is not None:
            line = next((ln for ln in self.site.network.lines if ln.id == meter.line), None)
            if line is not None:
                return self.subtree(self._far_end(line.from_bus, line.to_bus))
        return self.subtree(meter.bus)

    # ---- ownership --------------------------------------------------------------------------------
    @cached_property
    def bus_owner(self) -> dict[str, str]:
        """Bus → tenant (from ``network.buses[].tenant``, else the tenant whose load bus it is)."""
        out = {t.bus: t.id for t in self.site.tenants}
        out.update({b.id: b.tenant for b in self.site.network.buses if b.tenant})
        return out

    def all_assets(self) -> list:
        a = self.site.assets
        return [*a.pv, *a.batteries, *a.heat_pumps, *a.flexible_loads, *a.ev_depots]

    @cached_property
    def owner(self) -> dict[str, str | None]:
        """Asset id → owning tenant, ``None`` for shared (park) assets."""
        out: dict[str, str | None] = {}
        for asset in self.all_assets():
            if getattr(asset, "shared", False):
                out[asset.id] = None
            else:
                out[asset.id] = asset.tenant or self.bus_owner.get(asset.bus)
        return out

    def owned(self, tenant_id: str, kind: str | None = None) -> list[str]:
        """Ids of the assets a tenant owns (``kind``: ``pv`` or ``batteries`` to restrict)."""
        group = getattr(self.site.assets, kind) if kind else self.all_assets()
        return [a.id for a in group if self.owner.get(a.id) == tenant_id]

    def shared(self, kind: str) -> list[str]:
        return [a.id for a in getattr(self.site.assets, kind) if self.owner.get(a.id) is None]

    # ---- meters -----------------------------------------------------------------------------------
    def view(self, meter: Meter) -> MeterView:
        buses = self.meter_buses(meter)
        loads = tuple(t.id for t in self.site.tenants if t.bus in buses)
        assets = tuple(a.id for a in self.all_assets() if a.bus in buses)
        return MeterView(meter, buses, loads, assets)

    @cached_property
    def views(self) -> dict[str, MeterView]:
        return {m.id: self.view(m) for m in self.site.meters}

    @cached_property
    def pcc(self) -> Meter | None:
        return next((m for m in self.site.meters if m.scope == "pcc"), None)

    def tenant_meters(self, tenant_id: str) -> list[Meter]:
        return [m for m in self.site.meters if m.scope == "tenant" and m.tenant == tenant_id]

    def metered_tenants(self) -> list[str]:
        return [t.id for t in self.site.tenants if self.tenant_meters(t.id)]

    def behind(self, tenant_id: str, kind: str) -> list[str]:
        """Assets of ``kind`` (``pv``/``batteries``) downstream of the tenant's meters, whoever owns them."""
        seen: list[str] = []
        for m in self.tenant_meters(tenant_id):
            seen += [a for a in self.views[m.id].assets if a not in seen]
        ids = {a.id for a in getattr(self.site.assets, kind)}
        return [a for a in seen if a in ids]


def metering_problems(site: Site) -> list[str]:
    """Meter layouts that leave a tenant's consumption undetermined or count it twice (one line each)."""
    topo = MeteringTopology(site)
    problems: list[str] = []
    index = {m.id: i for i, m in enumerate(site.meters)}
    tenant_index = {t.id: i for i, t in enumerate(site.tenants)}
    for asset in topo.all_assets():
        bus_tenant = topo.bus_owner.get(asset.bus)
        if getattr(asset, "shared", False) and asset.tenant:
            problems.append(f"assets: '{asset.id}' is declared shared and owned by tenant '{asset.tenant}'; "
                            "choose one")
        elif asset.tenant and bus_tenant and asset.tenant != bus_tenant:
            problems.append(f"assets: '{asset.id}' is given to tenant '{asset.tenant}' but sits on bus "
                            f"'{asset.bus}' of tenant '{bus_tenant}'; move it or declare it shared")
    ends = {**{t.id: ("transformer", (t.hv_bus, t.lv_bus)) for t in site.network.transformers},
            **{ln.id: ("line", (ln.from_bus, ln.to_bus)) for ln in site.network.lines}}
    for m in site.meters:
        for kind, element in (("transformer", m.transformer), ("line", m.line)):
            if element is None:
                continue
            found = ends.get(element)
            if found is None or found[0] != kind:
                problems.append(f"meters[{index[m.id]}].{kind}: unknown {kind} '{element}'")
            elif m.bus not in found[1]:
                problems.append(f"meters[{index[m.id]}].bus: meter '{m.id}' is on {kind} '{element}', "
                                f"which does not end at bus '{m.bus}'")
        if m.transformer is not None and m.line is not None:
            problems.append(f"meters[{index[m.id]}]: meter '{m.id}' names both a transformer and a line; "
                            "a meter has one point")
    if problems:
        return problems
    tenant_meters = [m for m in site.meters if m.scope == "tenant" and m.tenant]
    if tenant_meters and topo.meshed:
        return ["network: the network is meshed (closed ring), so what lies downstream of a tenant meter is "
                "undefined; open a tie switch"]
    for m in tenant_meters:
        view = topo.views[m.id]
        others = [t for t in view.loads if t != m.tenant]
        others += [f"{topo.owner[a]} ({a})" for a in view.assets if topo.owner[a] not in (None, m.tenant)]
        if others:
            problems.append(f"meters[{index[m.id]}]: meter '{m.id}' of tenant '{m.tenant}' also measures "
                            f"{', '.join(others)}: that consumption would be counted in '{m.tenant}' too")
    for t in site.tenants:
        meters = topo.tenant_meters(t.id)
        if not meters:
            continue
        for a, b in ((a, b) for j, a in enumerate(meters) for b in meters[j + 1:]):
            if topo.views[a.id].buses & topo.views[b.id].buses:
                inner, outer = (a, b) if topo.views[a.id].buses <= topo.views[b.id].buses else (b, a)
                problems.append(f"meters[{index[inner.id]}]: meter '{inner.id}' lies under meter '{outer.id}' "
                                f"(tenant '{t.id}'): the consumption behind it would count twice")
        seen_buses = frozenset().union(*(topo.views[m.id].buses for m in meters))
        missing = [f"its load at bus '{t.bus}'"] if t.bus not in seen_buses else []
        missing += [f"'{a.id}' at bus '{a.bus}'" for a in topo.all_assets()
                    if topo.owner[a.id] == t.id and a.bus not in seen_buses]
        if missing:
            names = ", ".join(m.id for m in meters)
            problems.append(f"tenants[{tenant_index[t.id]}]: tenant '{t.id}' is metered by {names}, which do not "
                            f"see {', '.join(missing)}: its consumption is undetermined; add a meter there")
    unmetered = [t.id for t in site.tenants if not topo.tenant_meters(t.id)]
    if tenant_meters and len(unmetered) > 1:
        problems.append(f"tenants: {', '.join(repr(t) for t in unmetered)} have no meter while other tenants are "
                        "metered: their consumption is undetermined; give each a tenant meter")
    return problems


__all__ = ["MeterView", "MeteringTopology", "load_point", "metering_problems"]
