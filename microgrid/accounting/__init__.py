"""One accounting truth: the definitions behind every figure the product shows (docs/reports.md).

:mod:`.rules` holds the scalar definitions (demand charge with the 105 %/×2 rule and month-to-date logic,
green-power ratio with its parts, Scope 2, storage losses, energy cost). The per-interval ledgers and the
period accounts built on them live in :mod:`microgrid.reports` (``accounting``, ``periods``), and
:mod:`microgrid.reports.figures` gives the headline figures of any period to the run summary, the API and
the Prometheus gauges. Nothing heavy is imported here, so the optimizer may use the rules.
"""
