"""The validated site model: ``load_site(path) -> Site``."""

from microgrid.site.loader import SiteError, load_site, parse_site_yaml, site_from_mapping
from microgrid.site.models import (
    Battery,
    Device,
    EVDepot,
    FlexibleLoad,
    HeatPump,
    Meter,
    PVPlant,
    Site,
    Tariff,
    Tenant,
    minutes_of,
    tariff_period_at,
)
from microgrid.site.summary import site_summary

__all__ = [
    "Battery",
    "Device",
    "EVDepot",
    "FlexibleLoad",
    "HeatPump",
    "Meter",
    "PVPlant",
    "Site",
    "SiteError",
    "Tariff",
    "Tenant",
    "load_site",
    "minutes_of",
    "parse_site_yaml",
    "site_from_mapping",
    "site_summary",
    "tariff_period_at",
]
