"""Park simulator: device physics, simulated Modbus TCP devices on the shared register maps, faults.

Start with :class:`sim.park.Park` (``Park.from_site(site, clock, seed, faults=...)``); the clock comes from
:mod:`microgrid.clock` (re-exported by :mod:`sim.clock`). See docs/simulator.md. The controller never
imports this package: it talks Modbus to it.
"""
