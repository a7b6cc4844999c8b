"""Device physics as pure, unit-documented functions and small frozen state records (pvlib style).

Nothing here knows about Modbus or register maps: ``sim.devices`` translates registers into the commands
these functions take, and ``sim.park`` orchestrates the steps.
"""
