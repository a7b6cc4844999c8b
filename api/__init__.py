"""Operator HTTP API and web dashboard of the park microgrid.

``create_app(settings, store, control_port, site)`` builds the FastAPI app (see :mod:`api.app`);
:class:`~api.ports.ControlPort` is what the controller runtime offers it (:class:`~api.runtime_port.RuntimePort`
adapts :class:`microgrid.control.runtime.Runtime`); :class:`~api.settings.Settings` come from ``MICROGRID_*``
environment variables and refuse insecure values outside dev mode; :func:`api.serve.serve` runs it with
uvicorn inside an existing event loop.
"""

from api.app import create_app
from api.ports import ControlPort, LiveSnapshot, StoreView
from api.settings import InsecureSettingsError, Settings

__all__ = ["ControlPort", "InsecureSettingsError", "LiveSnapshot", "Settings", "StoreView", "create_app"]
