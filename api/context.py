"""Everything one app instance holds (created by the factory; nothing lives at module level)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.ports import ControlPort, StoreView
from api.ratelimit import RateLimiter
from api.security import VerifiedCache
from api.settings import Settings
from api.site_view import AssetInfo
from microgrid.site import Site


@dataclass
class AppContext:
    settings: Settings
    store: StoreView
    control: ControlPort
    site: Site
    assets: dict[str, AssetInfo]
    auth_limiter: RateLimiter
    """Login and token-issue requests per client address."""
    failure_limiter: RateLimiter
    """Failed authentications per client address (an exhausted bucket refuses unverified credentials)."""
    verified: VerifiedCache = field(default_factory=VerifiedCache)
    reports: Any = None
    """The reports service when available (see :mod:`api.routes.reports`)."""
    metrics: Any = None
