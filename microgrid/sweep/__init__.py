"""Scenario sweeps and park fleets on Dask (docs/sweeps.md).

- :mod:`~microgrid.sweep.scenarios`: the scenario file (named overrides of site-file fields, lists,
  product and zip sweeps), validated against the site schema for every (site, scenario) before anything runs;
- :mod:`~microgrid.sweep.task`: one (site, scenario) year planned and accounted, inputs carried as data;
- :mod:`~microgrid.sweep.runner` / :mod:`~microgrid.sweep.dask_exec`: in this process, on an embedded
  ``LocalCluster`` or on an existing Dask scheduler; rows written as they finish, reruns resume;
- :mod:`~microgrid.sweep.results`, :mod:`~microgrid.sweep.summary`: Parquet, CSV and the bilingual page.
"""
