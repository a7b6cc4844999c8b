"""Run ``async def`` tests without a pytest plugin: ``@async_test`` wraps them in ``asyncio.run``."""

from __future__ import annotations

import asyncio
import functools


def async_test(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper
