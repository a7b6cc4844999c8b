"""Manual overrides per asset, each with an expiry (an operator's setpoint that wins over the plan).

Meaning of ``value_kw`` by asset kind (sign convention of DESIGN.md §3):

- storage: AC setpoint, discharge > 0 / charge < 0;
- PV: active-power limit, kW (>= 0);
- heat pump, flexible load, EV depot: consumption setpoint, kW (>= 0).

Safety still wins: BMS flags, SoC window and the export limit clamp an override (see docs/control.md),
and the safe state ignores storage overrides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime


@dataclass(frozen=True)
class Override:
    """An operator setpoint for one asset until ``expires_at`` (tz-aware)."""

    asset_id: str
    value_kw: float
    expires_at: datetime
    reason: str = ""
    user: str = "operator"
    created_at: datetime | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        return data


class OverrideBook:
    """Overrides in force; expired ones drop out at the next :meth:`active` call and are returned once."""

    def __init__(self) -> None:
        self._items: dict[str, Override] = {}

    def set(self, override: Override) -> None:
        if override.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        self._items[override.asset_id] = override

    def clear(self, asset_id: str) -> Override | None:
        return self._items.pop(asset_id, None)

    def expire(self, now: datetime) -> list[Override]:
        """Remove and return the overrides whose expiry is at or before ``now``."""
        gone = [o for o in self._items.values() if o.expires_at <= now]
        for o in gone:
            del self._items[o.asset_id]
        return gone

    def active(self, now: datetime) -> dict[str, Override]:
        """Overrides in force at ``now`` (without removing expired ones; see :meth:`expire`)."""
        return {k: o for k, o in self._items.items() if o.expires_at > now}

    def values_kw(self, now: datetime) -> dict[str, float]:
        return {k: o.value_kw for k, o in self.active(now).items()}

    def __len__(self) -> int:
        return len(self._items)
