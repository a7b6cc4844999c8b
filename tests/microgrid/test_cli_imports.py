"""The CLI imports only what a command needs (fresh processes; speed itself is measured by bench/bench_cli.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.paths import REFERENCE_PARK, ROOT

PROBE = """
import sys
from microgrid.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("MODULES", " ".join(sorted({m.split('.')[0] for m in sys.modules} | ({"scipy.stats"} & set(sys.modules)))))
sys.exit(code)
"""
HEAVY = {"pandas", "numpy", "scipy", "pyomo", "pvlib", "pandapower", "matplotlib", "pymodbus", "drivers", "sim",
         "sqlalchemy", "fastapi", "uvicorn", "dask", "distributed", "pyarrow"}


def _modules(*argv: str, cwd=ROOT) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-1500:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["sweep", "--help"], ["report", "--help"]])
def test_help_imports_no_heavy_library(argv):
    assert _modules(*argv) & HEAVY == set()


def test_validate_reads_register_maps_without_the_modbus_stack():
    # validate checks every rating against its device's register map (drivers.registermap), but the map
    # loader must not pull in pymodbus or anything else heavy
    loaded = _modules("validate", str(REFERENCE_PARK))
    assert "drivers" in loaded
    assert loaded & (HEAVY - {"drivers"}) == set()


@pytest.mark.slow
def test_optimize_without_network_and_plot_loads_no_network_plot_or_drivers(tmp_path):
    loaded = _modules("optimize", str(REFERENCE_PARK), "--day", "2026-07-15", "--no-network", "--no-plot",
                      "--out", str(tmp_path))
    assert {"pyomo", "highspy"} <= loaded  # it did plan
    # nor pvlib's package (its SPA module alone) nor scipy.stats (issue 16's 3-s target)
    assert loaded & {"pandapower", "matplotlib", "drivers", "pymodbus", "sim", "fastapi", "pvlib", "scipy.stats"} == set()
    assert (tmp_path / "schedule.csv").exists() and not (tmp_path / "schedule.png").exists()
