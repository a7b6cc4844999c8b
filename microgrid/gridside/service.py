"""The northbound servers of one runtime, started and stopped together (``microgrid run``, tests).

:class:`Northbound` builds the point table from the site, starts the IEC 104 and/or Modbus server as
``gridside`` enables them (or as the caller forces), publishes the values after every control cycle
(:attr:`~microgrid.control.runtime.Runtime.cycle_observers`), and loads the DR schedule file.
"""

from __future__ import annotations

import asyncio

from microgrid.control.runtime import Runtime
from microgrid.gridside.commands import GridCommands
from microgrid.gridside.points import point_table
from microgrid.gridside.values import ValueSource


class Northbound:
    def __init__(self, runtime: Runtime, *, iec104: bool | None = None, modbus: bool | None = None,
                 iec104_port: int | None = None, modbus_port: int | None = None) -> None:
        gs = runtime.site.gridside
        self.runtime = runtime
        self.table = point_table(runtime.site)
        self.values = ValueSource(runtime, self.table)
        self.use_104 = gs.iec104.enabled if iec104 is None else iec104
        self.use_modbus = gs.modbus.enabled if modbus is None else modbus
        self.iec104_settings = gs.iec104 if iec104_port is None else gs.iec104.model_copy(update={"port": iec104_port})
        self.modbus_settings = gs.modbus if modbus_port is None else gs.modbus.model_copy(update={"port": modbus_port})
        self.iec104 = None
        self.modbus = None
        self.commands: GridCommands | None = None

    async def start(self) -> None:
        self.commands = GridCommands(self.runtime, asyncio.get_running_loop())
        if self.use_modbus:
            from microgrid.gridside.modbus_north import ModbusNorthServer

            self.modbus = ModbusNorthServer(self.modbus_settings, self.table, self.values, self.commands)
            await self.modbus.start()
        if self.use_104:
            from microgrid.gridside.iec104 import Iec104Server

            gs = self.runtime.site.gridside
            self.iec104 = Iec104Server(self.iec104_settings, gs.deadbands, self.table, self.commands,
                                       now=self.runtime.clock.now)
            self.iec104.update(self.values.values(), self.runtime.clock.now())
            try:
                self.iec104.start()
            except RuntimeError as exc:
                s = self.iec104_settings
                self.iec104 = None
                raise OSError(f"IEC 104: cannot listen on {s.host}:{s.port} ({exc})") from exc
        self.runtime.cycle_observers.append(self.publish)

    async def publish(self, _report=None) -> None:
        if self.modbus is None and self.iec104 is None:
            return
        values = self.values.values()
        if self.modbus is not None:
            await self.modbus.publish(values)
        if self.iec104 is not None:
            self.iec104.update(values, self.runtime.clock.now())

    async def stop(self) -> None:
        if self.publish in self.runtime.cycle_observers:
            self.runtime.cycle_observers.remove(self.publish)
        if self.iec104 is not None:
            await asyncio.to_thread(self.iec104.stop)
            self.iec104 = None
        if self.modbus is not None:
            await self.modbus.stop()
            self.modbus = None
