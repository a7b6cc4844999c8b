"""Exceptions of the optimizer library.

Callers (the CLI, the API) translate them into their own user-facing errors. The one exception is
:class:`ForecastError`: a forecast file is the user's input, so it is a :class:`microgrid.errors.UserError`
whose message is a catalogue entry (shown in the reader's language); it depends on nothing but that tiny module.
"""

from __future__ import annotations

from microgrid.errors import UserError


class OptimizerError(Exception):
    """Base class of every error raised by :mod:`optimizer`."""


class InputError(OptimizerError, ValueError):
    """Inputs that cannot describe a dispatch problem; ``problems`` has one ``field: what is wrong`` line each."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])

    def __str__(self) -> str:
        return "\n".join([self.message, *self.problems]) if self.problems else self.message


class ForecastError(InputError, UserError):
    """A forecast (CSV file or weather frame) that is missing columns, steps or has bad values.

    Raised with :meth:`UserError.of` (``uerr.forecast_*``): ``message`` is the English text, the CLI and the
    API show it in the reader's language."""

    def __init__(self, message: str, problems: list[str] | None = None, exit_code: int | None = None) -> None:
        UserError.__init__(self, message, problems, exit_code)


class StructureError(OptimizerError):
    """An intraday update whose inputs do not match the structure the persistent model was built for."""
