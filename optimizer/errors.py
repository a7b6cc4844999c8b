"""Exceptions of the optimizer library (no dependency on the rest of the project).

Callers (the CLI, the API) translate them into their own user-facing errors.
"""

from __future__ import annotations


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


class ForecastError(InputError):
    """A forecast (CSV file or weather frame) that is missing columns, steps or has bad values."""


class StructureError(OptimizerError):
    """An intraday update whose inputs do not match the structure the persistent model was built for."""
