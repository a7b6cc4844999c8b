"""Representative days: k-medoids within each month, weights = days each medoid stands for.

Features of a day (each scaled to [0, 1] over the year, so load and PV weigh alike): its hourly park load
(base loads, heat demand and flexible baselines) and its hourly PV available power. Clustering within
each month keeps the month's tariff season, demand-charge month and calendar together; the medoid (a real
day, not an average) keeps the day's own weather and load coherent. Algorithm: alternating k-medoids
(Park & Jun, "A simple and fast algorithm for K-medoids clustering", Expert Systems with Applications 36
(2009)) from a deterministic farthest-point start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RepresentativeDays:
    days: list[date]
    weights: list[float]
    """Number of days of the year each representative day stands for (sum = days in the year)."""
    assignment: dict[date, date]
    """Every day of the year → its representative."""


def day_features(frame: pd.DataFrame, load_columns: list[str], pv_columns: list[str], tz: str) -> pd.DataFrame:
    """One row per local day: hourly load and PV, each block scaled to [0, 1]."""
    local = frame.tz_convert(tz) if frame.index.tz is not None else frame
    hour = local.index.hour
    day = local.index.date
    parts = []
    for cols in (load_columns, pv_columns):
        total = local[cols].sum(axis=1) if cols else pd.Series(0.0, index=local.index)
        table = total.groupby([day, hour]).mean().unstack(fill_value=0.0)
        scale = float(table.to_numpy().max()) or 1.0
        parts.append(table / scale)
    return pd.concat(parts, axis=1, keys=["load", "pv"])


def k_medoids(x: np.ndarray, k: int, max_iter: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``k`` medoids of the rows of ``x`` and each row's medoid position (Euclidean distance)."""
    n = len(x)
    k = min(k, n)
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    medoids = [int(np.argmin(dist.sum(axis=1)))]  # the most central day first, then farthest points
    while len(medoids) < k:
        medoids.append(int(np.argmax(dist[:, medoids].min(axis=1))))
    medoids = np.array(medoids)
    for _ in range(max_iter):
        labels = np.argmin(dist[:, medoids], axis=1)
        new = medoids.copy()
        for j in range(k):
            members = np.flatnonzero(labels == j)
            if len(members):
                new[j] = members[np.argmin(dist[np.ix_(members, members)].sum(axis=1))]
        if np.array_equal(new, medoids):
            break
        medoids = new
    return medoids, np.argmin(dist[:, medoids], axis=1)


def representative_days(features: pd.DataFrame, per_month: int, peak: pd.Series | None = None) -> RepresentativeDays:
    """``per_month`` medoid days in every month (all days when the month has no more).

    With ``peak`` (a value per day, e.g. its highest hourly net load), each month's peak day is added as a
    representative of its own with weight 1, taken out of its cluster: the demand charge is paid on the
    month's highest interval, which a medoid (a typical day) understates (the "extreme period" of
    time-series aggregation, e.g. Kotzur et al., Renewable Energy 117 (2018)).
    """
    days: list[date] = []
    weights: list[float] = []
    assignment: dict[date, date] = {}
    index = list(features.index)
    months = sorted({(d.year, d.month) for d in index})
    for ym in months:
        members = [d for d in index if (d.year, d.month) == ym]
        if peak is not None and len(members) > per_month + 1:
            top = max(members, key=lambda d: float(peak[d]))
            days.append(top)
            weights.append(1.0)
            assignment[top] = top
            members = [d for d in members if d != top]
        x = features.loc[members].to_numpy(dtype=float)
        medoids, labels = k_medoids(x, per_month)
        for j, mi in enumerate(medoids):
            rep = members[mi]
            days.append(rep)
            weights.append(float((labels == j).sum()))
            for i in np.flatnonzero(labels == j):
                assignment[members[i]] = rep
    order = np.argsort([d.toordinal() for d in days])
    return RepresentativeDays([days[i] for i in order], [weights[i] for i in order], assignment)
