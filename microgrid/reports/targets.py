"""Green-power targets: Putian's non-fossil targets (versioned data in ``targets.yaml`` next to this module) and the
site's own target (``green_power.target_ratio_pct``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from microgrid.reports.model import Accounts, TargetProgress

TARGETS_FILE = Path(__file__).with_name("targets.yaml")


class Target(BaseModel):
    id: str
    name: str
    region: str
    year: int
    min_pct: float
    source: str
    verified: bool = False
    note: str = ""


@lru_cache(maxsize=1)
def policy_targets() -> tuple[Target, ...]:
    data = yaml.safe_load(TARGETS_FILE.read_text(encoding="utf-8"))
    return tuple(Target.model_validate(t) for t in data["targets"])


def _progress(tid: str, name: str, year: int | None, target: float, acc: Accounts, source: str, note: str
              ) -> TargetProgress:
    actual = acc.green_ratio_pct
    met = None if actual is None else actual >= target - 1e-9
    gap = None if actual is None else round(max(target - actual, 0.0), 3)
    return TargetProgress(id=tid, name=name, year=year, target_pct=target, actual_pct=actual,
                          basis=f"{acc.entity}, {acc.period} (coverage {acc.coverage_pct:.1f} %)", met=met,
                          gap_pp=gap, source=source, note=note)


def target_progress(total: Accounts, site_target_pct: float | None) -> list[TargetProgress]:
    """Progress of ``total`` (one entity over the report period) against every target."""
    out = []
    if site_target_pct is not None:
        out.append(_progress("site", "Site target", None, site_target_pct, total, "site file", ""))
    for t in policy_targets():
        note = t.note if not t.verified else ""
        note += " Compared with the electricity green-power ratio; the target is for all energy use city-wide."
        out.append(_progress(t.id, t.name, t.year, t.min_pct, total, t.source, note.strip()))
    return out


def target_name(target: TargetProgress, lang: str) -> str:
    """A target's name in ``lang`` (the catalogue's ``target.<id>``, else the name in the targets file)."""
    from microgrid.i18n import has, t

    key = f"target.{target.id}"
    return t(key, lang) if has(key) else target.name
