"""Small builders for hand-computable dispatch problems (96 × 15 min unless stated)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer import DispatchInputs, GridConnection, Tariff

TZ = "Asia/Shanghai"


def day_index(start: str = "2025-07-15", periods: int = 96, freq: str = "15min") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=periods, freq=freq, tz=TZ)


def hours(index: pd.DatetimeIndex) -> np.ndarray:
    return index.hour.to_numpy() + index.minute.to_numpy() / 60


def window(index: pd.DatetimeIndex, start_h: float, end_h: float, value: float, other: float = 0.0) -> np.ndarray:
    """``value`` for local hours in [start_h, end_h), ``other`` elsewhere."""
    h = hours(index)
    return np.where((h >= start_h) & (h < end_h), value, other)


def inputs(index: pd.DatetimeIndex, price, *, import_limit_kw: float = 10_000, export_limit_kw: float = 0.0,
           export_price=0.0, **assets) -> DispatchInputs:
    return DispatchInputs(
        index=index,
        tariff=Tariff(import_price_cny_per_kwh=np.broadcast_to(np.asarray(price, dtype=float), len(index)).copy(),
                      export_price_cny_per_kwh=export_price),
        grid=GridConnection(import_limit_kw=import_limit_kw, export_limit_kw=export_limit_kw),
        **assets,
    )
