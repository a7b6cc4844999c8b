"""Batch power flow on lightsim2grid: equal to pandapower ``runpp`` on every bundled site, with open and
closed switches and storage, and the numpy solver as fallback where lightsim2grid is absent."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

from microgrid.network import ParkNetwork, check_schedule
from microgrid.network import lightsim as lightsim_module
from microgrid.network.builder import apply_step, element_powers
from microgrid.network.powerflow import BatchPowerFlow
from microgrid.site import load_site
from tests.network.conftest import synthetic_schedule
from tests.paths import SITE_CONFIGS

pytest.importorskip("lightsim2grid")

BUNDLED = sorted(p.name for p in SITE_CONFIGS.iterdir() if (p / "site.yaml").exists())
STEPS = (0, 30, 47, 60, 95)
"""Night, morning, noon, afternoon and end of the day: PV, batteries and loads all change sign or size."""


def _runpp_vm_va(net, powers, step: int) -> tuple[np.ndarray, np.ndarray]:
    apply_step(net, powers, step)
    pp.runpp(net, numba=False, init="flat", calculate_voltage_angles=True, tolerance_mva=1e-11, max_iteration=30)
    return net.res_bus.vm_pu.to_numpy(), net.res_bus.va_degree.to_numpy()


def _assert_equals_runpp(network: ParkNetwork, site) -> None:
    check = check_schedule(network, synthetic_schedule(site))
    assert check.converged.all()
    net = network.net
    powers = element_powers(net, check.injections_kw)
    for step in STEPS:
        vm, va = _runpp_vm_va(net, powers, step)
        v_pp = vm * np.exp(1j * np.radians(va))
        v_ours = check.vm_pu.iloc[step].to_numpy() * np.exp(1j * np.radians(check.va_degree.iloc[step].to_numpy()))
        assert np.abs(v_pp - v_ours).max() <= 1e-8, f"step {step}"


@pytest.mark.slow
@pytest.mark.parametrize("site_name", BUNDLED)
def test_lightsim_backend_equals_runpp_on_every_bundled_site(site_name):
    site = load_site(SITE_CONFIGS / site_name)
    network = ParkNetwork.from_site(site)
    assert network.solver.backend == "lightsim2grid"
    _assert_equals_runpp(network, site)


@pytest.mark.slow
def test_open_and_closed_switches_match_runpp(reference_site):
    """The reference park's normally open tie closed (a meshed feeder) and a feeder section opened at one
    end (a line charged from one side only, through pandapower's auxiliary bus)."""
    site = reference_site.model_copy(deep=True)
    tie = site.network.switches[0]
    site.network.switches[0] = tie.model_copy(update={"closed": True})
    network = ParkNetwork.from_site(site)
    assert network.solver.backend == "lightsim2grid"
    _assert_equals_runpp(network, site)
    net = network.net
    line = int(net.line.index[net.line.name == site.network.lines[-1].id][0])
    pp.create_switch(net, int(net.line.at[line, "to_bus"]), line, et="l", closed=False)
    opened = ParkNetwork(net, site)
    assert opened.solver.backend == "lightsim2grid"
    _assert_equals_runpp(opened, site)


def test_storage_injections_follow_pandapower_signs(small_network):
    """A battery discharging (storage ``p_mw`` < 0) raises its bus voltage exactly as in ``runpp``."""
    net = small_network.net
    assert len(net.storage)
    solver = BatchPowerFlow(net)
    numpy_solver = BatchPowerFlow(net, backend="numpy")
    powers = solver._current_powers()
    charge = {t: np.repeat(p, 2, axis=0) for t, p in powers.p_mw.items()}
    charge["storage"][0] = -abs(net.storage.sn_mva.to_numpy() / 2)
    charge["storage"][1] = abs(net.storage.sn_mva.to_numpy() / 2)
    from microgrid.network.builder import ElementPowers

    both = ElementPowers(charge, {t: np.repeat(q, 2, axis=0) for t, q in powers.q_mvar.items()})
    s = solver.bus_injections_pu(both)
    fast, slow = solver.solve(s), numpy_solver.solve(s)
    assert fast.converged.all() and slow.converged.all()
    assert np.abs(fast.v - slow.v).max() <= 1e-8
    for step in range(2):
        for table in ("load", "sgen", "storage"):
            net[table]["p_mw"] = charge[table][step]
        pp.runpp(net, numba=False, calculate_voltage_angles=True, tolerance_mva=1e-11)
        assert np.abs(net.res_bus.vm_pu.to_numpy() - np.abs(fast.v[step, solver.pp_bus_internal])).max() <= 1e-8
    bus = solver.pp_bus_internal[net.bus.index.get_loc(int(net.storage.bus.iloc[0]))]
    assert np.abs(fast.v[0, bus]) > np.abs(fast.v[1, bus])  # discharging lifts the voltage


def test_numpy_solver_is_the_fallback_without_lightsim(monkeypatch, small_site):
    monkeypatch.setattr(lightsim_module, "available", lambda: False)
    network = ParkNetwork.from_site(small_site)
    assert network.solver.backend == "numpy"
    check = check_schedule(network, synthetic_schedule(small_site))
    assert check.converged.all()


def test_unconverged_engine_steps_are_solved_again_by_numpy(small_network):
    """A step whose lightsim2grid voltages do not meet the mismatch tolerance is handed to the numpy Newton."""
    solver = BatchPowerFlow(small_network.net)
    s = solver.bus_injections_pu(solver._current_powers())
    s = np.repeat(s, 3, axis=0) * np.array([0.5, 0.7, 0.9])[:, None]  # away from the start point
    real = solver._engine.solve

    def spoil(s_bus, v_init, tol, max_iter):
        v = real(s_bus, v_init, tol, max_iter)
        v[1] *= 1.001
        return v

    solver._engine.solve = spoil
    solution = solver.solve(s)
    assert solution.converged.all()
    assert solution.iterations[1] > 0 and solution.iterations[0] == 0
    reference = BatchPowerFlow(small_network.net, backend="numpy").solve(s)
    assert np.abs(solution.v - reference.v).max() <= 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 3, 8])
def test_lightsim_backend_equals_runpp_on_generated_sites(seed, tmp_path):
    """Seeded parks (tests/sitegen): 1–3 feeders of ring main units, 1–8 tenants behind one or two
    transformers, storage, PV, flexible loads."""
    from tests.sitegen import generate_site

    site = load_site(generate_site(seed, tmp_path))
    network = ParkNetwork.from_site(site)
    assert network.solver.backend == "lightsim2grid"
    _assert_equals_runpp(network, site)
