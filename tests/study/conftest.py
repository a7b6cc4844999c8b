"""A year of inputs of the reference park (hourly), built once for the study tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def reference_year(reference_site):
    from microgrid.study.year import year_inputs

    return year_inputs(reference_site, 2026, step_min=60)
