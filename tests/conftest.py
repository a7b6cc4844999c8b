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


def debian_tool(name: str) -> str:
    """Path of a Debian command-line tool a test needs, installed by scripts/ensure-debian-tools.sh when
    running as root; the test is skipped with a message otherwise."""
    import shutil
    import subprocess

    from tests.paths import ROOT

    if shutil.which(name) is None:
        subprocess.run([str(ROOT / "scripts" / "ensure-debian-tools.sh"), name], check=False, timeout=300)
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian package '{name}'; run as root or apt-get install {name})")
    return path
