"""Paths of the bundled sites, for tests."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE_CONFIGS = ROOT / "site_configs"
REFERENCE_PARK = SITE_CONFIGS / "putian_hitech"
SMALL_SITE = SITE_CONFIGS / "small_factory"
