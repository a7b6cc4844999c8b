"""Errors caused by the user's input, reported by the CLI and API without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input (site file, argument, request).

    ``exit_code`` is what the CLI exits with: 2 bad input, 3 solve failure, 4 device/communication failure.
    ``problems`` holds one line per problem (field path and what is wrong).
    """

    exit_code: int = 2

    def __init__(self, message: str, problems: list[str] | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return "\n".join([self.message, *self.problems])
