"""The working calendar of a year: public holidays, make-up working days and tenants' festival shutdowns.

Holidays come from one data file per year (``microgrid/study/data/calendar_<year>.yaml``, transcribed from
the State Council's annual notice, source in the file). A year without a file gets an *approximate*
calendar, said so in :attr:`YearCalendar.note`: New Year's Day, Labour Day 1–5 May, National Day 1–7 Oct
and an 8-day Spring Festival from the eve (lunar-new-year dates in ``data/lunar_new_year.yaml``); no
make-up days and no Qingming/Dragon-Boat/Mid-Autumn days.

Day kinds: ``workday``, ``weekend``, ``holiday``; a make-up working day (调休) on a weekend is a
``workday``. A holiday uses the site's ``weekend`` profile. A tenant in its Spring Festival shutdown
(``study.shutdowns`` of the site file) runs at ``load_pct`` of its weekend profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from microgrid.errors import UserError
from microgrid.site.models import Site

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class YearCalendar:
    """Day kinds of one year and the first day of its Lunar New Year."""

    year: int
    kinds: dict[date, str]
    """Every date of the year → ``workday``, ``weekend`` or ``holiday``."""
    holiday_names: dict[date, str]
    spring_festival: date
    source: str
    approximate: bool
    note: str = ""
    shutdown: dict[str, set[date]] = field(default_factory=dict)
    """Tenant id → days of its Spring Festival shutdown (filled by :func:`site_calendar`)."""

    def day_type(self, day: date, summer_months: list[int]) -> str:
        """Profile day type: ``weekend`` for weekends and holidays, else summer or winter weekday."""
        if self.kinds[day] != "workday":
            return "weekend"
        return "summer_weekday" if day.month in summer_months else "winter_weekday"


@lru_cache(maxsize=1)
def _lunar_new_year() -> dict[int, date]:
    raw = yaml.safe_load((DATA_DIR / "lunar_new_year.yaml").read_text(encoding="utf-8"))
    return {int(k): v for k, v in raw.items()}


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def available_years() -> list[int]:
    """Years with a published holiday file."""
    return sorted(int(p.stem.split("_")[1]) for p in DATA_DIR.glob("calendar_*.yaml"))


@lru_cache(maxsize=16)
def year_calendar(year: int) -> YearCalendar:
    """The calendar of ``year`` (published file, else the approximate rule of the module docstring)."""
    path = DATA_DIR / f"calendar_{year}.yaml"
    weekend = {d: ("weekend" if d.weekday() >= 5 else "workday") for d in _days(date(year, 1, 1), date(year, 12, 31))}
    names: dict[date, str] = {}
    if path.is_file():
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for h in spec["holidays"]:
            for d in _days(h["first"], h["last"]):
                weekend[d] = "holiday"
                names[d] = h["name"]
        for d in spec.get("workdays", []):
            weekend[d] = "workday"
        return YearCalendar(year, weekend, names, spec["spring_festival"], spec["source"], approximate=False)
    lny = _lunar_new_year().get(year)
    if lny is None:
        known = sorted(_lunar_new_year())
        raise UserError.of("uerr.year_no_calendar", year=year, files=str(available_years()), first=known[0],
                           last=known[-1])
    rules = [("New Year 元旦", date(year, 1, 1), date(year, 1, 1)),
             ("Spring Festival 春节", lny - timedelta(days=1), lny + timedelta(days=6)),
             ("Labour Day 劳动节", date(year, 5, 1), date(year, 5, 5)),
             ("National Day 国庆节", date(year, 10, 1), date(year, 10, 7))]
    for name, first, last in rules:
        for d in _days(first, last):
            if d.year == year:
                weekend[d] = "holiday"
                names[d] = name
    note = (f"approximate calendar for {year}: no published holiday notice in microgrid/study/data "
            "(New Year, Spring Festival eve + 7 days, 1-5 May, 1-7 Oct; no make-up days)")
    return YearCalendar(year, weekend, names, lny, "rule (see microgrid/study/calendar.py)", approximate=True,
                        note=note)


def site_calendar(site: Site, year: int) -> YearCalendar:
    """The year's calendar with the site's tenant shutdowns (``study.shutdowns``)."""
    base = year_calendar(year)
    shutdown: dict[str, set[date]] = {}
    for s in site.study.shutdowns:
        first = base.spring_festival - timedelta(days=s.days_before)
        last = base.spring_festival + timedelta(days=s.days_after)
        shutdown.setdefault(s.tenant, set()).update(d for d in _days(first, last) if d.year == year)
    return YearCalendar(base.year, base.kinds, base.holiday_names, base.spring_festival, base.source,
                        base.approximate, base.note, shutdown)
