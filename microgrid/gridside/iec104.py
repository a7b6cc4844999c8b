"""IEC 60870-5-104 server (controlled station) over the point table, with c104 (lib60870-C).

- **Monitoring**: measurements as ``M_ME_TF_1`` (short float, CP56Time2a time tag from the controller's
  clock), single points as ``M_SP_TB_1``; a value the controller does not have is sent with quality
  *invalid*. After every control cycle the values are refreshed; a value that moved by more than its
  deadband (``gridside.deadbands``) since it was last sent, or a single point that changed, is transmitted
  spontaneously (COT 3). General interrogation (COT 20) returns the whole table (c104 answers it).
- **Commands** (select-before-operate, ``select_timeout_s``; c104 confirms the select and calls back on the
  execute): ``C_SE_NC_1`` set-points for the PCC import limit and the DR target, ``C_SC_NA_1`` release. The
  execute is checked against ``gridside.commands`` (:meth:`GridCommands.check`) and answered at once: a
  refused command gets a negative activation confirmation (P/N = 1) and changes nothing, its cause in the
  audit (``grid_command`` event with the originator address); an accepted one is applied in the runtime's
  loop right after (:class:`~microgrid.gridside.commands.GridCommands`).
- **Clock synchronisation** (``C_CS_NA_1``) is confirmed and the offset to the controller's clock is logged;
  the controller keeps its own (NTP-disciplined) clock, a SCADA never sets it.
- **Access**: listens on ``host:port`` (loopback by default); connections from addresses not in
  ``allowed_clients`` are refused at connect and logged.

c104's callbacks run on its own thread; they never wait for the runtime's loop. No
``from __future__ import annotations`` here: c104 checks the callbacks' signatures from their annotations.
"""

import logging
import math
import threading
from datetime import datetime

import c104

from microgrid.gridside.commands import GridCommands
from microgrid.gridside.points import GridPoint, PointTable
from microgrid.site.gridside import Deadbands, Iec104Settings

log = logging.getLogger(__name__)


class Iec104Server:
    """The controlled station (see module docstring)."""

    def __init__(self, settings: Iec104Settings, deadbands: Deadbands, table: PointTable, commands: GridCommands,
                 now=None) -> None:
        self.settings = settings
        self.deadbands = deadbands
        self.table = table
        self.commands = commands
        self.now = now or (lambda: datetime.now().astimezone())
        self.server = c104.Server(ip=settings.host, port=settings.port, tick_rate_ms=50,
                                  select_timeout_ms=int(settings.select_timeout_s * 1000))
        self.server.on_connect(callable=self._on_connect)
        self.server.on_clock_sync(callable=self._on_clock_sync)
        station = self.server.add_station(common_address=settings.common_address)
        self.points: dict[str, c104.Point] = {}
        self.sent: dict[str, float | bool] = {}
        self._lock = threading.Lock()
        self.refused_connections: list[str] = []
        self.clock_offsets_s: list[float] = []
        for p in table.points:
            if p.kind == "measurement":
                point = station.add_point(io_address=p.ioa, type=c104.Type.M_ME_TF_1)
            elif p.kind == "single":
                point = station.add_point(io_address=p.ioa, type=c104.Type.M_SP_TB_1)
            elif p.kind == "setpoint":
                point = station.add_point(io_address=p.ioa, type=c104.Type.C_SE_NC_1,
                                          command_mode=c104.CommandMode.SELECT_AND_EXECUTE)
                point.on_receive(callable=self._receiver(p))
            else:
                point = station.add_point(io_address=p.ioa, type=c104.Type.C_SC_NA_1,
                                          command_mode=c104.CommandMode.SELECT_AND_EXECUTE)
                point.on_receive(callable=self._receiver(p))
            self.points[p.key] = point

    # ---- connection, clock -----------------------------------------------------------------------------
    def _on_connect(self, server: c104.Server, ip: str) -> bool:
        if ip in self.settings.allowed_clients:
            log.info("IEC 104: client %s connected", ip)
            return True
        self.refused_connections.append(ip)
        log.warning("IEC 104: connection from %s refused (not in allowed_clients)", ip)
        return False

    def _on_clock_sync(self, server: c104.Server, ip: str, date_time: datetime) -> c104.ResponseState:
        now = self.now()
        sent = date_time if date_time.tzinfo is not None else date_time.replace(tzinfo=now.tzinfo)
        offset = (sent - now).total_seconds()
        self.clock_offsets_s.append(offset)
        log.info("IEC 104: clock sync from %s, offset %+.3f s to the controller's clock (not applied)", ip, offset)
        return c104.ResponseState.SUCCESS

    # ---- commands ------------------------------------------------------------------------------------
    def _receiver(self, p: GridPoint):
        def on_receive(point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
                       ) -> c104.ResponseState:
            # Answer at once from the checks (no wait for the runtime's loop); the accepted command is applied in
            # the loop right after, where the caps audit it.
            source = "iec104"
            user = f"iec104 OA {message.originator_address}"
            if p.kind == "command":
                if bool(point.value):
                    self.commands.submit(lambda: self.commands.release(source, user))
                return c104.ResponseState.SUCCESS
            value = float(point.value)
            cause = self.commands.check(p.key, value)
            if cause is not None:
                log.warning("IEC 104: %s = %s refused: %s", p.key, value, cause)
                self.commands.refused(p.key, value, cause, source, user)
                return c104.ResponseState.FAILURE
            self.commands.submit(lambda: self.commands.setpoint(p.key, value, source, user))
            return c104.ResponseState.SUCCESS

        return on_receive

    # ---- monitoring ------------------------------------------------------------------------------------
    def _moved(self, p: GridPoint, value: float | bool) -> bool:
        last = self.sent.get(p.key)
        if last is None:
            return True
        if isinstance(value, bool):
            return value != last
        if math.isnan(value) or math.isnan(float(last)):
            return math.isnan(value) != math.isnan(float(last))
        band = getattr(self.deadbands, p.deadband, 0.0) if p.deadband else 0.0
        return abs(value - float(last)) > band or (band == 0.0 and value != last)

    def update(self, values: dict[str, float | bool], at: datetime) -> int:
        """Refresh every point; transmit those that moved beyond their deadband. Returns how many were sent."""
        sent = 0
        with self._lock:
            for p in self.table.points:
                if p.kind not in ("measurement", "single"):
                    continue
                value = values[p.key]
                point = self.points[p.key]
                if p.kind == "single":
                    point.info = c104.SingleInfo(on=bool(value), recorded_at=at)
                else:
                    bad = math.isnan(float(value))
                    quality = c104.Quality.Invalid if bad else c104.Quality()
                    point.info = c104.ShortInfo(actual=0.0 if bad else float(value), quality=quality, recorded_at=at)
                if self._moved(p, value):
                    first = p.key not in self.sent
                    self.sent[p.key] = value
                    if not first and self.server.has_active_connections:
                        point.transmit(cause=c104.Cot.SPONTANEOUS)
                        sent += 1
        return sent

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

