"""Argument validators shared by the sub-commands (argparse ``type=`` callables and checks).

Each refuses what cannot be meant, with one line naming the value and the accepted range: non-finite
numbers (``nan``, ``inf``), values outside physical or practical bounds, dates outside the years a park
runs, and store URLs of databases the store cannot use. argparse turns a refusal into ``error: argument
--x: ...`` and exit code 2 before anything is read, started or written.
"""

from __future__ import annotations

import argparse
import math
from datetime import date, datetime, tzinfo

from microgrid.i18n import current_lang, has, t

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
"""Days accepted by date options: the years a park's data or plans can cover (date arithmetic near
``date.max`` would otherwise overflow deep inside pandas)."""


def refuse(key: str, /, **params: object) -> argparse.ArgumentTypeError:
    """The refusal of an argument, in the command line's language (argparse prints it after the option)."""
    return argparse.ArgumentTypeError(t(key, current_lang(), **params))


def _what(what: str) -> str:
    """The name of a quantity (``"power in kW"``) in the command line's language."""
    return t(f"uerr.what.{what}", current_lang()) if has(f"uerr.what.{what}") else what


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise refuse("uerr.arg_not_number", text=text) from None
    if not math.isfinite(value):
        raise refuse("uerr.arg_not_finite", text=text)
    return value


def bounded(lo: float, hi: float, what: str, *, lo_open: bool = False):
    """A ``type=`` for a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    def parse(text: str) -> float:
        value = _number(text)
        if not (lo < value if lo_open else lo <= value) or value > hi:
            raise refuse("uerr.arg_above" if lo_open else "uerr.arg_between", text=text, what=_what(what),
                         lo=f"{lo:g}", hi=f"{hi:g}")
        return value

    return parse


ALLOWED_STEPS = (5, 10, 15, 20, 30, 60)
"""Planning steps in minutes that divide an hour (and the profiles' 5-min grid)."""


def step_minutes(text: str) -> int:
    """A ``type=`` for a planning step in minutes (one of :data:`ALLOWED_STEPS`)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value not in ALLOWED_STEPS:
        raise refuse("uerr.arg_step", text=text, steps=str(ALLOWED_STEPS))
    return value


def integer(lo: int, hi: int, what: str):
    """A ``type=`` for an integer in ``[lo, hi]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = lo - 1
        if not lo <= value <= hi:
            raise refuse("uerr.arg_integer", text=text, what=_what(what), lo=lo, hi=hi)
        return value

    return parse


def positive(what: str, hi: float = 1e9):
    """A ``type=`` for a finite number > 0 (and <= ``hi``)."""
    return bounded(0.0, hi, what, lo_open=True)


def day(text: str) -> date:
    """A ``type=`` for a local day ``YYYY-MM-DD`` between :data:`FIRST_DAY` and :data:`LAST_DAY`."""
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise refuse("uerr.arg_not_date", text=text) from None
    if not FIRST_DAY <= value <= LAST_DAY:
        raise refuse("uerr.arg_day_outside", text=text, first=str(FIRST_DAY), last=str(LAST_DAY))
    return value


def local_time(text: str | None, option: str, tz: tzinfo) -> datetime | None:
    """``--start``: an ISO 8601 time (local ``tz`` when it has no offset) on a day :func:`day` accepts, else
    :class:`microgrid.errors.UserError`; ``None`` passes through."""
    from microgrid.errors import UserError

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UserError.of("uerr.time_not_iso", option=option, text=repr(text)) from None
    if not FIRST_DAY <= value.date() <= LAST_DAY:
        raise UserError.of("uerr.time_outside", option=option, text=repr(text), first=str(FIRST_DAY), last=str(LAST_DAY))
    return value if value.tzinfo else value.replace(tzinfo=tz)


def store_url(text: str) -> str:
    """A ``type=`` for ``--store``: a URL of a database the store can open (``memory`` passes through)."""
    if text == "memory":
        return text
    from microgrid.store.engine import StoreError, check_url

    try:
        check_url(text)
    except StoreError as exc:
        raise argparse.ArgumentTypeError(exc.text(current_lang())) from None
    return text
