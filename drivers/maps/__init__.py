"""Register-map files (``<name>.yaml``), one per device model; see :mod:`drivers.registermap`.

A package only so that the YAML files ship with the wheel; ``generate_sunspec.py`` regenerates the SunSpec maps.
"""
