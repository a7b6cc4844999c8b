"""Modbus device drivers: register maps, transport, safe writes and device capabilities.

Entry points (imported from their modules to keep ``import drivers`` light for the simulator):

- :class:`drivers.fleet.Fleet` — every device of a site behind its capabilities; ``read_all()`` /
  ``apply(setpoints)`` once per control cycle;
- :mod:`drivers.capabilities` — readings, setpoints and the capability protocols the controller sees;
- :mod:`drivers.safewrite` — the write rules and the audit record (:class:`~drivers.safewrite.WriteResult`);
- :mod:`drivers.registermap` — the map schema, loader and codec shared with the simulator.

See ``docs/drivers.md``.
"""
