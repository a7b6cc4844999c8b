"""Which Modbus link (and so which devices) the code running now talks to, for log records.

pymodbus logs without naming the device ("Failed to connect", "request ask for transaction_id=65 but got
id=64"). The transport sets :data:`CURRENT_LINK` while it connects and runs a request; asyncio copies
context variables into the callbacks it schedules from there (including the connection's read callback),
so a log filter can name the devices behind the link a library record came from.
"""

from __future__ import annotations

from contextvars import ContextVar

CURRENT_LINK: ContextVar[str | None] = ContextVar("modbus_link", default=None)
"""Label of the link in use: ``host:port (dev_a, dev_b)`` or ``None`` outside any request."""
