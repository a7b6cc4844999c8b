"""The congested variant differs from the reference park in one cable only; its profiles are copies."""

from __future__ import annotations

import pandapower as pp

from microgrid.network import build_net
from tests.network.conftest import CONGESTED_SITE
from tests.paths import REFERENCE_PARK


def test_only_the_first_section_of_feeder_a_differs(congested_site, reference_site):
    assert congested_site.id == "putian_congested"
    ref_lines = {ln.id: ln for ln in reference_site.network.lines}
    changed = [ln.id for ln in congested_site.network.lines if ln != ref_lines[ln.id]]
    assert changed == ["cable_ss_fa1"]
    assert congested_site.network.lines[1].std_type == "NA2XS2Y 1x95 RM/25 6/10 kV"
    for field in ("grid", "tenants", "assets", "tariff", "meters", "devices", "profiles", "control"):
        assert getattr(congested_site, field) == getattr(reference_site, field), field
    assert congested_site.network.transformers == reference_site.network.transformers
    net = build_net(congested_site)
    weak = net.line[net.line["name"] == "cable_ss_fa1"].iloc[0]
    assert weak.max_i_ka == pp.available_std_types(net, "line").at["NA2XS2Y 1x95 RM/25 6/10 kV", "max_i_ka"] == 0.249


def test_profiles_are_byte_identical_copies():
    for name in ("summer_weekday.csv", "winter_weekday.csv", "weekend.csv"):
        assert (CONGESTED_SITE / "profiles" / name).read_bytes() == (REFERENCE_PARK / "profiles" / name).read_bytes()
