"""The ``microgrid`` command. Each sub-command is a module here exposing ``register(subparsers)``.

User mistakes raise :class:`microgrid.errors.UserError`; they are printed as ``error: ...`` with the
error's exit code (2 bad input, 3 solve failure, 4 device/communication failure), never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from microgrid import __version__
from microgrid.errors import UserError

COMMANDS: tuple[str, ...] = ("validate", "optimize", "check", "sim", "run", "devices", "users", "report")
"""Sub-command modules in ``microgrid.cli``, in the order ``--help`` lists them."""


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad arguments; keep that, but say which command to ask for help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def add_logging_arguments(parser: argparse.ArgumentParser, default=None) -> None:
    """``--log-file`` / ``--log-level``: accepted before the command and after it (long-running commands)."""
    parser.add_argument("--log-file", metavar="PATH", default=default,
                        help="also write the log as JSON lines to PATH (all levels from --log-level)")
    parser.add_argument("--log-level", metavar="LEVEL", default=default,
                        choices=("debug", "info", "warning", "error", "DEBUG", "INFO", "WARNING", "ERROR"),
                        help="our own log level: debug, info (default), warning, error; libraries stay at warning")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="microgrid",
        description="Industrial park green microgrid optimizer and controller.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_logging_arguments(parser, argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"microgrid.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from microgrid.logs import remove_handlers, setup_logging

    setup_logging(quiet=bool(getattr(args, "quiet", False)), log_file=getattr(args, "log_file", None),
                  level=getattr(args, "log_level", None) or "INFO")
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        remove_handlers()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
