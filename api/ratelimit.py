"""In-process token-bucket rate limiter keyed by client address (login, token issue, failed auth)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate_per_min`` requests per minute per key, bursts up to ``burst``.

    :meth:`take` spends one token and returns 0, or returns the seconds to wait (the request is refused).
    Memory is bounded: full, idle buckets are dropped when ``max_keys`` is reached.
    """

    def __init__(self, rate_per_min: float, burst: int, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s = rate_per_min / 60.0
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # called from the server's worker threads

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_s)
        bucket.updated = now

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens of ``key``; 0.0 when allowed, else seconds until it would be."""
        with self._lock:
            return self._take(key, cost)

    def _take(self, key: str, cost: float) -> float:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
        self._refill(bucket, now)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate_per_s

    def check(self, key: str) -> float:
        """Seconds to wait before ``key`` may try again (0.0 = may), without spending a token."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            self._refill(bucket, self._clock())
            return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / self.rate_per_s

    def _prune(self, now: float) -> None:
        for key in list(self._buckets):
            bucket = self._buckets[key]
            self._refill(bucket, now)
            if bucket.tokens >= self.burst:
                del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


def retry_after_header(wait_s: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait_s)))}
