"""Park green microgrid: site model, network, control runtime, store, reports and CLI."""

__version__ = "0.1.0"
