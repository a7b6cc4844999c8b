"""Query parameter types shared by routes (bounded, so odd values answer 422, never 500)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator

MIN_DAY, MAX_DAY = date(2000, 1, 1), date(2100, 12, 31)


def _day_in_range(value: date) -> date:
    if not MIN_DAY <= value <= MAX_DAY:
        raise ValueError(f"must be between {MIN_DAY} and {MAX_DAY}")
    return value


def _time_in_range(value: datetime) -> datetime:
    if not MIN_DAY <= value.date() <= MAX_DAY:
        raise ValueError(f"must be between {MIN_DAY} and {MAX_DAY}")
    return value


BoundedDay = Annotated[date, AfterValidator(_day_in_range)]
BoundedTime = Annotated[datetime, AfterValidator(_time_in_range)]
