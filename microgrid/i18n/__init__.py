"""One message catalogue (English and Simplified Chinese) for everything a person reads.

The catalogue is ``en.json`` and ``zh-CN.json`` next to this module: flat ``key -> text`` maps with
``{name}`` placeholders, read by the dashboard (served as JSON), the API (error messages by
``Accept-Language``), events and alarms (texts by code), reports, plots and the CLI. A test checks that
both files have the same keys and the same placeholders.

Key families: ``nav.*``/``tile.*``/... dashboard labels; ``alarm.<code>`` and ``event.<kind>`` texts
(``alarm._unknown`` when a code has none); ``err.*`` API errors; ``uerr.*`` refusals of bad input
(:meth:`microgrid.errors.UserError.of`, shown by the CLI and the API); ``report.*`` report and XLSX headers;
``cli.*`` command-line messages, ``cli.help.*``/``cli.desc.*`` option help and command descriptions, ``run.*``,
``users.*``, ``sim.*``, ``devices.*``, ``study.*`` and ``sweep.*`` the console of those commands. What stays
English: docs/i18n.md.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Literal

Lang = Literal["en", "zh-CN"]
LANGS: tuple[Lang, ...] = ("en", "zh-CN")
DEFAULT_LANG: Lang = "en"
HERE = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def catalogue(lang: Lang) -> dict[str, str]:
    """The ``key -> text`` map of one language."""
    return json.loads((HERE / f"{lang}.json").read_text(encoding="utf-8"))


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def normalise(lang: str | None) -> Lang:
    """``zh``, ``zh-CN``, ``zh_CN.UTF-8``, ``zh-Hans`` -> ``zh-CN``; anything else -> ``en``."""
    return "zh-CN" if (lang or "").strip().lower().startswith("zh") else "en"


def lang_from_accept(header: str | None) -> Lang:
    """The best of our languages for an ``Accept-Language`` header (quality values honoured)."""
    best: tuple[float, Lang] = (-1.0, DEFAULT_LANG)
    for part in (header or "").split(","):
        tag, _, rest = part.strip().partition(";")
        if not tag:
            continue
        q = 1.0
        if rest.strip().startswith("q="):
            try:
                q = float(rest.strip()[2:])
            except ValueError:
                q = 0.0
        low = tag.lower()
        lang: Lang | None = "zh-CN" if low.startswith("zh") else ("en" if low.startswith("en") or low == "*" else None)
        if lang is not None and q > best[0]:
            best = (q, lang)
    return best[1]


class _Keep(dict):
    """Leaves a placeholder the caller did not give as ``{name}`` instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def t(key: str, lang: str | None = None, /, **params: object) -> str:
    """The text of ``key`` in ``lang`` (default English) with ``params`` filled in; the key itself when unknown."""
    text = catalogue(normalise(lang)).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANG).get(key, key)
    return text.format_map(_Keep({k: f"{v:g}" if isinstance(v, float) else v for k, v in params.items()})) if params else text


LANG_ENV = "MICROGRID_LANG"
_chosen: Lang | None = None


def set_lang(lang: str | None) -> None:
    """The language of this process's command-line output, reports and plots (``None``: from the environment)."""
    global _chosen
    _chosen = normalise(lang) if lang else None


def current_lang() -> Lang:
    """``--lang`` if given, else ``$MICROGRID_LANG``, else English (the system locale is not guessed from)."""
    return _chosen or normalise(os.environ.get(LANG_ENV))


def both(key: str, /, **params: object) -> tuple[str, str]:
    """``(English, Chinese)`` of ``key``: for texts stored once and shown in either language later."""
    return t(key, "en", **params), t(key, "zh-CN", **params)


def worded(key: str, /, **params: object) -> dict[str, object]:
    """``message`` (English, for logs and audit records), ``key`` and ``params`` of a record whose text is the
    catalogue entry ``key``: the fields a finding or a write result keeps to be shown later in any language."""
    return {"message": t(key, "en", **params), "key": key, "params": tuple(params.items())}


def reworded(message: str, key: str, params: tuple[tuple[str, object], ...], lang: str | None) -> str:
    """A record's text in ``lang``: its catalogue entry when it has a key, else ``message`` as written."""
    return t(key, lang, **dict(params)) if key else message


def display_width(text: str) -> int:
    """Terminal columns of ``text``: Chinese characters take two (for aligned console tables)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def ljust(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (:func:`display_width`)."""
    return text + " " * max(width - display_width(text), 0)


def rjust(text: str, width: int) -> str:
    """``text`` right-aligned in ``width`` terminal columns (:func:`display_width`)."""
    return " " * max(width - display_width(text), 0) + text


def has(key: str) -> bool:
    return key in catalogue(DEFAULT_LANG)


def alarm_text(code: str, params: dict | None = None, lang: str | None = None) -> str:
    """Decoded text of an alarm or device-fault code; unknown codes read ``Device alarm <code>`` + detail."""
    params = dict(params or {})
    params.setdefault("device", params.get("source", ""))
    key = f"alarm.{code}"
    if has(key):
        return t(key, lang, **params).strip()
    detail = params.get("text") or params.get("message") or ""
    return t("alarm._unknown", lang, code=code, device=params["device"], detail=detail).strip(" :")
