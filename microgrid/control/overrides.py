"""Manual overrides per asset, each with an expiry (an operator's setpoint that wins over the plan).

Meaning of ``value_kw`` by asset kind (sign convention of DESIGN.md §3):

- storage: AC setpoint, discharge > 0 / charge < 0;
- PV: active-power limit, kW (>= 0);
- heat pump, flexible load, EV depot: consumption setpoint, kW (>= 0).

Safety still wins: BMS flags, SoC window and the export limit clamp an override (see docs/control.md),
and the safe state ignores storage overrides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TypeVar

W = TypeVar("W")


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
        self._released: dict[str, str] = {}
        """Asset → user who ended its override, until the next :meth:`attribute`."""

    def set(self, override: Override) -> None:
        if override.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        self._items[override.asset_id] = override

    def clear(self, asset_id: str, user: str | None = None) -> Override | None:
        """End the override on ``asset_id``; the writes of the next cycle for it are then ``user``'s."""
        gone = self._items.pop(asset_id, None)
        if gone is not None and user:
            self._released[asset_id] = user
        return gone

    def attribute(self, writes: Sequence[W], now: datetime, *, held: bool = True) -> list[W]:
        """``writes`` (objects with ``asset_id`` and ``user``) with the user who caused each: the operator of an
        override in force on its asset (when ``held``: overrides were applied this cycle) or who just ended
        one; others keep theirs (the controller). Forgets the ended overrides."""
        active = self.active(now) if held else {}
        out = []
        for w in writes:
            asset_id = getattr(w, "asset_id", "")
            user = active[asset_id].user if asset_id in active else self._released.get(asset_id)
            out.append(replace(w, user=user) if user else w)
        self._released.clear()
        return out

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
