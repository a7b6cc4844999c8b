"""The park answering the grid (docs/gridside.md): the northbound point table, the IEC 60870-5-104 and Modbus
TCP servers over it, the grid's set-point commands, and demand-response settlement.

The import caps themselves (DR events, commanded PCC limit) live with the controller
(:mod:`microgrid.control.gridcaps`); this package builds on the runtime and is started by ``microgrid run``.
"""
