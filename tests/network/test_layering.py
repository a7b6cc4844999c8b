"""microgrid.network is a library: it must not import the simulator, the drivers or the controller, and the
AC check alone must not need the optimizer (only the constrained loop uses it)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.paths import ROOT

PROBE = """
import json, sys
import microgrid.network
from microgrid.network import check_schedule
check_only = sorted({m.split('.')[0] for m in sys.modules} & {'optimizer', 'pyomo'})
import microgrid.network.constrained
upper = sorted(m for m in sys.modules if m.split('.')[0] in ('sim', 'drivers', 'api') or m.startswith('microgrid.control'))
print(json.dumps({'check_only': check_only, 'upper': upper}))
"""


def test_import_layering():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    assert found == {"check_only": [], "upper": []}
