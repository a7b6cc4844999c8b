"""Interval frames to columnar JSON, stored plans to answers, and the stacking legend of the power chart."""

from __future__ import annotations

import math

import pandas as pd

from api.schemas.schedules import AssetGroup, ScheduleOut, SeriesOut
from api.site_view import AssetInfo
from microgrid.site import Site
from microgrid.store.models import ScheduleRecord


def _clean(value: object) -> float | None:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else round(x, 4)


def series_out(frame: pd.DataFrame, step_min: int) -> SeriesOut:
    numeric = frame.select_dtypes("number")
    tou = frame["tou_period"].astype(str).tolist() if "tou_period" in frame else None
    return SeriesOut(
        index=[ts.to_pydatetime() for ts in frame.index],
        step_min=step_min,
        series={col: [_clean(v) for v in numeric[col].tolist()] for col in numeric.columns},
        tou_period=tou,
    )


def plan_frame(record: ScheduleRecord, tz: str) -> pd.DataFrame:
    return record.frame_df(tz)


def schedule_out(record: ScheduleRecord, site: Site, assets: dict[str, AssetInfo]) -> ScheduleOut:
    frame = plan_frame(record, site.timezone)
    kinds = {a.id: a.kind for a in assets.values() if a.power_column in frame.columns}
    kinds.update({t.id: "load" for t in site.tenants if f"{t.id}_load_kw" in frame.columns})
    summary = record.model_dump(exclude={"frame", "inputs"})
    return ScheduleOut(meta=summary, assets=kinds, data=series_out(frame, record.step_min))


def stack_legend(site: Site, assets: list[AssetInfo]) -> list[AssetGroup]:
    """Columns the power chart stacks: sources above zero, consumptions below (tenant loads included)."""
    out = []
    for a in assets:
        zh = {"pv": "光伏", "battery": "储能", "heat_pump": "热泵", "ev_depot": "充电站"}.get(a.kind, "柔性负荷")
        tenant = site.tenant(a.tenant) if a.tenant else None
        zh_label = f"{zh} {tenant.name_zh or tenant.name}" if tenant else f"{zh} {a.id}"
        out.append(AssetGroup(column=a.power_column, asset_id=a.id, kind=a.kind, label=a.name, label_zh=zh_label,
                              sign=-1 if a.consumer else 1))
    for t in site.tenants:
        out.append(AssetGroup(column=f"{t.id}_load_kw", asset_id=t.id, kind="load", label=t.name,
                              label_zh=t.name_zh or t.name, sign=-1))
    return out
