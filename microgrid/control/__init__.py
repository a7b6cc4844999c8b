"""The controller runtime: real-time PCC control, planning jobs, safety and fallback, store, resume.

Start with :class:`microgrid.control.runtime.Runtime` (docs/control.md). The pure controllers are in
:mod:`microgrid.control.controllers`. Nothing heavy is imported here.
"""
