"""The product's log: one set-up for every command, library loggers routed through it.

- Our modules log to ``microgrid.*`` (and ``drivers.*``, ``sim.*``, ``api.*``); control events go to
  ``microgrid.events`` with ``kind``, ``severity`` and ``device`` attached (:func:`log_event`).
- Library loggers (pymodbus, uvicorn, apscheduler, asyncio) are routed through the same handlers at WARNING:
  their records gain the device behind the Modbus link they came from (:data:`drivers.logcontext.CURRENT_LINK`),
  pymodbus's appended frame hex dumps are cut from the console line, and repeats are rate-limited.
- Console (stderr): ``HH:MM:SS LEVEL [device] message``. Control events are printed by the command
  (``microgrid run`` prints alarms and warnings with their simulated time), not here. With ``quiet`` only our
  own errors reach the console; everything still goes to the log file.
- ``log_file``: JSON lines (one object per record: ``ts`` ISO 8601 UTC, ``level``, ``logger``, ``device``,
  ``message``, plus ``kind``/``severity``/``code`` for events) for sites that ship logs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

LIBRARY_LOGGERS: tuple[str, ...] = ("pymodbus", "uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler",
                                    "asyncio", "sqlalchemy", "pandapower", "matplotlib", "numba", "pyomo", "pvlib")
"""Loggers of libraries we use; routed through our handlers and held at WARNING."""
PRODUCT_LOGGERS: tuple[str, ...] = ("microgrid", "drivers", "sim", "api", "optimizer")
EVENTS_LOGGER = "microgrid.events"
REPEAT_WINDOW_S = 60.0
"""A message repeated (same logger, device and text pattern) within this many seconds is counted, not printed."""

_OURS = "_microgrid_handler"
_CONTROL_SOURCES = frozenset({"control", "mode", "jobs", "planner", "rt", "store", "api"})


def _device(record: logging.LogRecord) -> str | None:
    device = getattr(record, "device", None)
    if device:
        return str(device)
    from drivers.logcontext import CURRENT_LINK

    return CURRENT_LINK.get()


class DeviceFilter(logging.Filter):
    """Attach ``record.device``: the one the caller named, else the Modbus link in use.

    Drops pymodbus's own "Repeating...." placeholder (our :class:`RepeatFilter` counts repeats instead).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("pymodbus") and record.getMessage().startswith("Repeating"):
            return False
        record.device = _device(record)
        return True


def _first_line(text: str) -> str:
    """pymodbus appends the last frames as ``\\n>>>>> send: 0x…`` lines: keep the message itself."""
    return text.split("\n", 1)[0].rstrip()


def _pattern(text: str) -> str:
    """The message with its numbers blanked, so ``transaction_id=65 … 64`` and ``=66 … 65`` count as a repeat."""
    out, digit = [], False
    for ch in _first_line(text):
        if ch.isdigit():
            if not digit:
                out.append("#")
            digit = True
        else:
            out.append(ch)
            digit = False
    return "".join(out)


class RepeatFilter(logging.Filter):
    """Let the first of a run of similar records through; count the rest for ``window_s`` seconds (wall).

    The next similar record after the window carries ``(N similar suppressed)`` in its message.
    """

    def __init__(self, window_s: float = REPEAT_WINDOW_S, clock=time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self._seen: dict[tuple, list] = {}  # key -> [window start, suppressed count]

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "alarm", False):
            return True  # alarms are rate-limited at their source (raised once, cleared once)
        key = (record.name, getattr(record, "device", None), record.levelno, _pattern(record.getMessage()))
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window_s:
            seen[1] += 1
            return False
        suppressed = seen[1] if seen is not None else 0
        self._seen[key] = [now, 0]
        if len(self._seen) > 4096:  # bounded: forget the oldest patterns
            for old in sorted(self._seen, key=lambda k: self._seen[k][0])[:1024]:
                del self._seen[old]
        record.suppressed = suppressed
        return True


class ConsoleFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL [device] message`` in local time, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        device = getattr(record, "device", None)
        where = f" [{device}]" if device else ""
        text = _first_line(record.getMessage())
        if not record.name.startswith(PRODUCT_LOGGERS):
            text = f"{record.name.split('.')[0]}: {text}"
        if getattr(record, "suppressed", 0):
            text += f" ({record.suppressed} similar suppressed)"
        if record.exc_info and record.levelno >= logging.ERROR and not record.name.startswith(LIBRARY_LOGGERS):
            text += f" ({record.exc_info[1]!r})"
        return f"{ts} {record.levelname:<7}{where} {text}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line (UTF-8, not ASCII-escaped)."""

    FIELDS = ("kind", "severity", "code", "suppressed")

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "device": getattr(record, "device", None),
            "message": _first_line(record.getMessage()),
        }
        rest = record.getMessage().partition("\n")[2].strip()
        if rest:  # pymodbus's frame dump: kept for diagnosis, capped
            doc["detail"] = rest[:4000]
        for name in self.FIELDS:
            value = getattr(record, name, None)
            if value:
                doc[name] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class ConsoleFilter(logging.Filter):
    """Control events are printed by the command itself (``microgrid run``), so the console skips them here;
    quiet keeps only our own errors (a library's complaint is in the log file, and its effect is an alarm)."""

    def __init__(self, quiet: bool) -> None:
        super().__init__()
        self.quiet = quiet

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == EVENTS_LOGGER:
            return False
        return not self.quiet or (record.levelno >= logging.ERROR and record.name.startswith(PRODUCT_LOGGERS))


def remove_handlers() -> None:
    """Take our handlers off the root logger again (the end of a command run in-process)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.close()


def setup_logging(*, quiet: bool = False, log_file: Path | str | None = None, level: str | int = "INFO",
                  stream: TextIO | None = None) -> None:
    """Install the product's handlers on the root logger (replacing earlier ones of ours).

    ``level`` applies to our own loggers on the console (``WARNING`` by default for libraries, always);
    the log file receives our records from ``level`` too, so a quiet console loses nothing there.
    """
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    remove_handlers()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if numeric <= logging.DEBUG else logging.INFO)
    for name in LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        lib.setLevel(logging.WARNING)
        lib.propagate = True
        for handler in list(lib.handlers):  # e.g. uvicorn's own dictConfig handlers: route through ours
            if not isinstance(handler, logging.NullHandler):
                lib.removeHandler(handler)
    for name in PRODUCT_LOGGERS:
        logging.getLogger(name).setLevel(numeric)

    # Bound now, not looked up per record: pyomo swaps sys.stderr for a stream that logs, which would loop.
    console = logging.StreamHandler(stream or sys.stderr)
    console.setLevel(numeric)
    console.addFilter(ConsoleFilter(quiet))
    console.addFilter(DeviceFilter())
    console.addFilter(RepeatFilter())
    console.setFormatter(ConsoleFormatter())
    setattr(console, _OURS, True)
    root.addHandler(console)
    if log_file is not None:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setLevel(numeric)
        handler.addFilter(DeviceFilter())
        handler.addFilter(RepeatFilter())
        handler.setFormatter(JsonFormatter())
        setattr(handler, _OURS, True)
        root.addHandler(handler)


@contextlib.contextmanager
def held(name: str):
    """Hold back the records of logger ``name`` inside the block; let them out only if it ends without error.

    A refusal (e.g. ``--host 0.0.0.0`` in dev mode) is then one ``error:`` line, not preceded by warnings about
    settings that will never be used.
    """
    logger = logging.getLogger(name)
    records: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = records.append  # type: ignore[method-assign]
    propagate = logger.propagate
    logger.addHandler(collector)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(collector)
        logger.propagate = propagate
    for record in records:  # reached only when the block succeeded
        logger.handle(record)


def log_event(event) -> None:
    """Log a control event (:class:`microgrid.control.events.Event`) to ``microgrid.events``.

    The device is the event's ``data["device"]``, else its source when that is not a part of the controller.
    """
    severity = str(event.severity)
    level = {"alarm": logging.ERROR, "warning": logging.WARNING}.get(severity, logging.INFO)
    data = event.data or {}
    logging.getLogger(EVENTS_LOGGER).log(
        level, "%s: %s", event.kind, event.message,
        extra={"kind": event.kind, "severity": severity, "code": data.get("code"),
               "device": data.get("device") or (None if event.source in _CONTROL_SOURCES else event.source),
               "alarm": severity == "alarm"},
    )
