"""Network-constrained dispatch: the congested variant overloads a cable unconstrained, the loop fixes it."""

from __future__ import annotations

import pytest

from microgrid.network import CheckLimits, ParkNetwork
from microgrid.network.constrained import check_result, plan_with_network
from microgrid.planning import build_dispatch_inputs, horizon_for_day
from optimizer import solve_dispatch
from optimizer.network_limits import validate_network_limits
from tests.network.conftest import SUMMER_DAY


@pytest.fixture(scope="module")
def congested(congested_site):
    inputs = build_dispatch_inputs(congested_site, horizon_for_day(congested_site, SUMMER_DAY))
    network = ParkNetwork.from_site(congested_site)
    return inputs, network, plan_with_network(inputs, network)


def test_unconstrained_plan_overloads_the_weak_cable(congested):
    _, _, plan = congested
    before = plan.unconstrained_check
    assert before.converged.all()
    assert ("line", "cable_ss_fa1") in before.violated_elements()
    assert before.line_loading_pct["cable_ss_fa1"].max() > 110.0
    assert plan.history[0].violations == before.n_violations > 0


def test_constrained_plan_is_clean_and_costs_at_least_as_much(congested):
    inputs, network, plan = congested
    assert plan.status == "clean" and plan.ok
    assert plan.check.ok and plan.check.n_violations == 0 and not plan.check.failures
    assert 1 <= plan.iterations <= 5 and len(plan.history) == plan.iterations + 1
    assert plan.check.line_loading_pct["cable_ss_fa1"].max() <= 100.0
    assert plan.result.ok
    assert plan.result.solve.objective >= plan.unconstrained.solve.objective - 1e-6
    assert plan.result.kpis["cost_total_cny"] >= plan.unconstrained.kpis["cost_total_cny"]
    # The final check is the check of the final schedule, and the rows are valid optimizer rows.
    again = check_result(network, plan.result)
    assert again.line_loading_pct.equals(plan.check.line_loading_pct)
    validate_network_limits(plan.limits, inputs.n_steps, inputs.asset_ids())
    assert len(plan.limits) == plan.history[-1].network_rows > 0
    summary = plan.summary()
    assert summary["violations_remaining"] == 0 and summary["remaining_elements"] == []
    assert summary["cost_final_cny"] >= summary["cost_unconstrained_cny"]


def test_the_reference_park_cable_is_not_the_problem(reference_site, reference_network):
    inputs = build_dispatch_inputs(reference_site, horizon_for_day(reference_site, SUMMER_DAY))
    check = check_result(reference_network, solve_dispatch(inputs))
    assert check.line_loading_pct["cable_ss_fa1"].max() < 80.0  # the 1x240 cable carries the same plan easily


def test_iteration_limit_reports_what_remains(congested):
    inputs, network, plan = congested
    capped = plan_with_network(inputs, network, max_iterations=0, first=plan.unconstrained)
    assert capped.status == "iteration_limit" and capped.iterations == 0
    assert capped.check.n_violations == plan.unconstrained_check.n_violations
    assert "violation(s) remain after 0 iteration(s)" in capped.message
    assert capped.summary()["remaining_elements"] == [f"{t} {e}" for t, e in plan.unconstrained_check.violated_elements()]


def test_infeasible_network_limits_keep_the_last_plan(congested):
    inputs, network, plan = congested
    strict = plan_with_network(inputs, network, limits=CheckLimits(max_loading_pct=40.0), first=plan.unconstrained)
    assert strict.status == "infeasible" and not strict.ok
    assert strict.result is plan.unconstrained  # the last feasible plan is kept
    assert strict.iterations == 1
    assert "no plan satisfies the linearised network limits" in strict.message
    assert strict.history[-1].objective_cny is None


def test_a_clean_plan_needs_no_iteration(small_site, small_network):
    inputs = build_dispatch_inputs(small_site, horizon_for_day(small_site, SUMMER_DAY))
    plan = plan_with_network(inputs, small_network)
    assert plan.status == "clean" and plan.iterations == 0 and plan.limits == []
    assert plan.result is plan.unconstrained
