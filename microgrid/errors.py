"""Errors caused by the user's input, reported by the CLI and API without a traceback."""

from __future__ import annotations

from typing import Self


class UserError(Exception):
    """A mistake in the user's input (site file, argument, request).

    ``exit_code`` is what the CLI exits with: 2 bad input, 3 solve failure, 4 device/communication failure.
    ``problems`` holds one line per problem (field path and what is wrong); they stay as written (English
    field paths and pydantic's words). ``key``/``params``: the message's entry in the catalogue
    (:mod:`microgrid.i18n`), so the CLI and the API can show it in the reader's language; ``message`` is
    always the English text.
    """

    exit_code: int = 2

    def __init__(self, message: str, problems: list[str] | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])
        self.key: str | None = None
        self.params: dict[str, object] = {}
        self._problem_keys: list[tuple[str, dict]] | None = None
        if exit_code is not None:
            self.exit_code = exit_code

    @classmethod
    def of(cls, key: str, problems: list[str] | None = None, /, *, exit_code: int | None = None,
           **params: object) -> Self:
        """The error whose message is catalogue entry ``key`` (``uerr.*`` by convention) with ``params``.

        A parameter may itself be a :class:`UserError` built with :meth:`of`: it is shown in the same
        language as the message around it."""
        from microgrid.i18n import t

        err = cls(t(key, "en", **_rendered(params, "en")), problems, exit_code)
        err.key, err.params = key, dict(params)
        return err

    def with_problem(self, key: str, /, **params: object) -> Self:
        """Add a problem line that is a catalogue entry (shown in the reader's language like the message)."""
        from microgrid.i18n import t

        if self._problem_keys is None:
            self._problem_keys = [("", {"line": p}) for p in self.problems]
        self.problems.append(t(key, "en", **params))
        self._problem_keys.append((key, dict(params)))
        return self

    def text(self, lang: str | None) -> str:
        """The message in ``lang`` (English when it has no catalogue entry)."""
        if self.key is None:
            return self.message
        from microgrid.i18n import t

        return t(self.key, lang, **self.params_in(lang))

    def params_in(self, lang: str | None) -> dict[str, object]:
        """:attr:`params` with every nested :class:`UserError` (a library's refusal that a caller puts in
        context, e.g. ``--loads: <forecast-file problem>``) given as its text in ``lang``."""
        return _rendered(self.params, lang)

    def problems_in(self, lang: str | None) -> list[str]:
        """:attr:`problems` in ``lang`` (lines given as plain text stay as they are)."""
        if self._problem_keys is None:
            return list(self.problems)
        from microgrid.i18n import t

        return [t(k, lang, **p) if k else str(p["line"]) for k, p in self._problem_keys]

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return "\n".join([self.message, *self.problems])


def _rendered(params: dict[str, object], lang: str | None) -> dict[str, object]:
    return {k: v.text(lang) if isinstance(v, UserError) else v for k, v in params.items()}
