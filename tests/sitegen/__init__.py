"""Seeded generator of valid park folders (``site.yaml`` + profile CSVs) for property and closed-loop tests.

Usage::

    from tests.sitegen import generate_site
    site_dir = generate_site(7, tmp_path)                       # -> tmp_path / "gen_7" (a site directory)
    site = load_site(site_dir)                                  # the project's own loader accepts it
    generate_site(7, tmp_path, n_tenants=8, export_limit_kw=300)  # any drawn parameter can be overridden

A seed always gives the same files (byte for byte). What is drawn, and the keys ``overrides`` accepts, is
:class:`Shape` (see its field docs). The park always has: a 10 kV PCC bus, 1–3 feeders of chained ring
main units, 1–8 tenants each behind one or two 10/0.4 kV transformers, rooftop PV, one or more batteries
using the project's storage maps (each rated within what its map can command), heat pumps with tanks,
an EV depot, one flexible load of each kind (shiftable, curtailable, deferrable), zero export or a positive
export limit with a feed-in price above the valley price, and an import cap that binds in the afternoon of
the summer weekday (below the park's unmanaged afternoon net peak, above every other interval's).

Power figures follow the project's sign convention: ratings are magnitudes; loads consume (> 0).
"""

from __future__ import annotations

from tests.sitegen.generator import STORAGE_MAPS, Shape, draw_shape, generate_site, site_mapping

__all__ = ["STORAGE_MAPS", "Shape", "draw_shape", "generate_site", "site_mapping"]
