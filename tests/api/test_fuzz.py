"""Property-based fuzzing of the OpenAPI schema with schemathesis against the running app: no 5xx, every
answer conforms to the schema (status code, content type, body: no undocumented 4xx), and data the schema
calls invalid is refused (the request models are strict and their constraints are in the schema, so e.g.
``"100"`` or ``true`` as kW must not pass). The in-process app is fuzzed with an admin token, the real
runtime on the simulator with an operator token (admin routes must then answer a documented 403)."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import make_env, serving

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
"""One test walks every operation of a running app (simulated reports, re-plans on the real runtime): on a
shared 2-core machine it can pass the suite's 300 s per-test limit."""

EXCLUDED = ("/api/v1/users/{name}/token",)
"""Rotating a token (the fuzzer would rotate its own admin token and go on with a dead one)."""
EXAMPLES = 15
"""Generated requests per operation."""


@pytest.fixture(scope="module", params=["in-process", "runtime-on-simulator"])
def fuzz_env(request, tmp_path_factory, small_site):
    """The seeded in-process environment, and the real runtime on the simulator (each its own store)."""
    from api import Settings

    settings = Settings.for_dev(auth_rate_per_min=10_000, auth_burst=1000)
    if request.param == "in-process":
        env = make_env(tmp_path_factory.mktemp("fuzz"), small_site)
        with serving(env, settings) as (url, _clients):
            env["url"], env["token"] = url, env["tokens"]["admin"]
            yield env
        env["store"].close()
        return
    from tests.api.conftest import SIM_START
    from tests.api.sim_stack import SimStack

    stack = SimStack(small_site, SIM_START, tmp_path_factory.mktemp("fuzz_sim"), settings=settings).start()
    try:
        yield {"url": stack.url, "token": stack.store.create_user("fuzz_operator", "operator")[1]}
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_env):
    auth = {"Authorization": f"Bearer {fuzz_env['token']}"}
    schema = schemathesis.openapi.from_url(f"{fuzz_env['url']}/api/v1/openapi.json", headers=auth)
    return schema.exclude(path=list(EXCLUDED))


def test_no_server_errors_and_schema_conformance(fuzz_schema, fuzz_env):
    """Every operation: generated requests (valid and invalid) never get a 5xx and answers match the schema.

    Hypothesis drives schemathesis' strategies directly (one test, all operations): schemathesis' own pytest
    plugin does not support the installed pytest 9.
    """
    auth = {"Authorization": f"Bearer {fuzz_env['token']}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
              negative_data_rejection]
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 30
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(base_url=fuzz_env["url"], headers=auth, checks=checks, timeout=60)

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters and no body
        except Exception as exc:
            raise AssertionError(f"{operation.label} ({mode.value} data): {exc}") from exc
