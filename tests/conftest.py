"""Shared fixtures: paths of the bundled sites."""

from __future__ import annotations

import pytest

from tests.paths import REFERENCE_PARK, SMALL_SITE


@pytest.fixture(scope="session")
def reference_site():
    from microgrid.site import load_site

    return load_site(REFERENCE_PARK)


@pytest.fixture(scope="session")
def small_site():
    from microgrid.site import load_site

    return load_site(SMALL_SITE)
