"""A park's network: the pandapower net of a site, its asset map and the vectorised solver bound to it."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandapower as pp
import pandas as pd

from microgrid.network.builder import NetOptions, asset_elements, build_net, reactive_ratio
from microgrid.network.powerflow import BatchPowerFlow
from microgrid.site.models import Site


class ParkNetwork:
    """The pandapower net of a site (:func:`~microgrid.network.builder.build_net`) with its solver.

    Element ids are the site ids (``net.bus.name``, ``net.line.name``, ``net.trafo.name``). Build once and
    reuse for many checks: the solver set-up (one ``runpp``) is paid once.
    """

    def __init__(self, net: pp.pandapowerNet, site: Site | None = None) -> None:
        self.net = net
        self.site = site
        self.assets = asset_elements(net)

    @classmethod
    def from_site(cls, site: Site, options: NetOptions | None = None) -> ParkNetwork:
        return cls(build_net(site, options), site)

    @cached_property
    def solver(self) -> BatchPowerFlow:
        return BatchPowerFlow(self.net)

    @property
    def bus_ids(self) -> list[str]:
        return [str(x) for x in self.net.bus["name"]]

    @property
    def line_ids(self) -> list[str]:
        return [str(x) for x in self.net.line["name"]]

    @property
    def trafo_ids(self) -> list[str]:
        return [str(x) for x in self.net.trafo["name"]]

    @property
    def bus_vn_kv(self) -> np.ndarray:
        return self.net.bus["vn_kv"].to_numpy(float)

    def element_max_loading_pct(self, table: str) -> np.ndarray:
        """Loading limit of each line or transformer from the site file (``max_loading_pct``, default 100)."""
        df = self.net[table]
        if "max_loading_percent" not in df.columns:
            return np.full(len(df), 100.0)
        return df["max_loading_percent"].fillna(100.0).to_numpy(float)

    def asset_q_ratio(self) -> np.ndarray:
        """Reactive per active injection of each asset (``tan φ`` for loads, 0 otherwise), in asset order."""
        return np.array([reactive_ratio(k, c) for k, c in zip(self.assets["kind"], self.assets["cos_phi"], strict=True)])

    def asset_frame(self, values: np.ndarray, index: pd.Index) -> pd.DataFrame:
        return pd.DataFrame(values, index=index, columns=self.assets.index)
