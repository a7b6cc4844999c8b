"""Synthetic device telemetry from a dispatch schedule, for end-to-end report tests.

Each source's true power is the planned interval power plus a zero-mean ripple (10 % of it, one sine period
per interval), so the true interval energy equals the plan's. Meters also report cumulative import/export
registers integrated exactly from the true power, and so do battery converters (charge/discharge). Samples are taken every ``sample_s`` seconds with a random
jitter, as a poller would, so integrating the power samples is close to, not exactly, the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from microgrid.site.models import Site

INTERVAL_S = 900.0


@dataclass
class Truth:
    """Exact energies of the synthetic plant over the whole horizon, kWh."""

    counters: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    """(meter id, register) → (value at the start, value at the end)."""
    energy: dict[tuple[str, str], float] = field(default_factory=dict)
    """(asset id, ``pv``/``charge``/``discharge``) → kWh."""


def _signals(site: Site, frame: pd.DataFrame) -> dict[str, tuple[str, np.ndarray]]:
    """source id → (kind of signal, planned kW per interval) in the park sign convention."""
    col = lambda name: frame[name].to_numpy(dtype=float) if name in frame else np.zeros(len(frame))  # noqa: E731
    load = {t.id: col(f"{t.id}_load_kw") for t in site.tenants}
    for h in site.assets.heat_pumps:
        load[h.tenant] = load[h.tenant] + col(f"{h.id}_p_el_kw")
    for x in (*site.assets.flexible_loads, *site.assets.ev_depots):
        load[x.tenant] = load[x.tenant] + col(f"{x.id}_load_kw")
    out: dict[str, tuple[str, np.ndarray]] = {}
    for m in site.meters:
        device = next((d.id for d in site.devices if d.serves == m.id), m.id)
        if m.scope == "pcc":
            out[device] = ("meter", col("grid_kw"))
        elif m.scope == "tenant":
            net = load[m.tenant].copy()
            for p in site.assets.pv:
                if p.tenant == m.tenant and p.bus == m.bus:
                    net -= col(f"{p.id}_kw")
            for b in site.assets.batteries:
                if b.tenant == m.tenant and b.bus == m.bus:
                    net -= col(f"{b.id}_kw")
            out[device] = ("meter", net)
    for p in site.assets.pv:
        device = next((d.id for d in site.devices if d.serves == p.id), p.id)
        out[device] = ("pv", col(f"{p.id}_kw"))
        out[device + "#avail"] = ("avail", col(f"{p.id}_avail_kw"))
    for b in site.assets.batteries:
        devices = [d for d in site.devices if d.serves == b.id]
        power = next((d.id for d in devices if d.role in ("storage", "pcs")), b.id)
        soc = next((d.id for d in devices if d.role in ("storage", "bms")), b.id)
        out[power] = ("battery", col(f"{b.id}_kw"))
        out[soc + "#soc"] = ("soc", col(f"{b.id}_soc_pct"))
    return out


def telemetry_from_schedule(site: Site, frame: pd.DataFrame, *, sample_s: float = 30.0, jitter_s: float = 3.0,
                            seed: int = 0, counter_start_kwh: float = 1000.0) -> tuple[list[tuple], Truth]:
    """Samples ``(ts_ms, source_id, quantity, value)`` for the horizon of ``frame`` and the exact truth."""
    rng = np.random.default_rng(seed)
    t0 = frame.index[0].value / 1e9
    n = len(frame)
    horizon = n * INTERVAL_S
    base = np.arange(0.0, horizon, sample_s)
    truth = Truth()
    samples: list[tuple] = []
    for source, (kind, plan_kw) in _signals(site, frame).items():
        t = np.clip(base + rng.uniform(-jitter_s, jitter_s, len(base)), 0.0, horizon - 1e-3)
        t[0] = 0.0
        i = np.minimum((t // INTERVAL_S).astype(int), n - 1)
        tau = t - i * INTERVAL_S
        amp = 0.1 * np.abs(plan_kw)
        if kind in ("soc", "avail"):
            values = plan_kw[i] if kind == "soc" else plan_kw[i] + amp[i] * np.sin(2 * np.pi * tau / INTERVAL_S)
        else:
            values = plan_kw[i] + amp[i] * np.sin(2 * np.pi * tau / INTERVAL_S)
        ts_ms = ((t0 + t) * 1000).round().astype(np.int64)
        source_id, _, suffix = source.partition("#")
        quantity = {"soc": "soc_pct", "avail": "p_avail_kw"}.get(suffix, "p_kw")
        samples.extend(zip(ts_ms.tolist(), [source_id] * len(t), [quantity] * len(t), values.tolist(), strict=True))
        if kind in ("meter", "battery"):
            ripple = amp[i] * INTERVAL_S / (2 * np.pi) * (1 - np.cos(2 * np.pi * tau / INTERVAL_S)) / 3600
            registers = ((("e_import_kwh", 1.0), ("e_export_kwh", -1.0)) if kind == "meter"
                         else (("e_discharge_kwh", 1.0), ("e_charge_kwh", -1.0)))
            for register, sign in registers:
                part = np.maximum(sign * plan_kw, 0.0)
                done = np.concatenate([[0.0], np.cumsum(part * INTERVAL_S / 3600)])
                active = sign * plan_kw > 0
                counter = counter_start_kwh + done[i] + part[i] * tau / 3600 + np.where(active[i], ripple, 0.0)
                end_ts = int(round((t0 + horizon) * 1000))
                samples.extend(zip(ts_ms.tolist(), [source_id] * len(t), [register] * len(t), counter.tolist(),
                                   strict=True))
                samples.append((end_ts, source_id, register, counter_start_kwh + done[-1]))
                truth.counters[(source_id, register)] = (counter_start_kwh, counter_start_kwh + done[-1])
        if kind == "pv":
            truth.energy[(source_id, "pv")] = float(plan_kw.sum() * INTERVAL_S / 3600)
        if kind == "battery":
            truth.energy[(source_id, "discharge")] = float(np.maximum(plan_kw, 0).sum() * INTERVAL_S / 3600)
            truth.energy[(source_id, "charge")] = float(np.maximum(-plan_kw, 0).sum() * INTERVAL_S / 3600)
    samples.sort(key=lambda s: s[0])
    return samples, truth
