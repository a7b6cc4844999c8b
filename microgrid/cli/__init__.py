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

COMMANDS: dict[str, str] = {
    "validate": "check a site file and print its summary",
    "optimize": "plan the dispatch of a site for a day (Pyomo + HiGHS)",
    "check": "AC power-flow check of a schedule (voltages, loadings, losses)",
    "sim": "simulate a site's devices over Modbus TCP (physics, faults, clock)",
    "run": "run the controller on a site (real devices, or the simulator with --sim)",
    "devices": "read every device once (point table) or write one setpoint",
    "users": "manage API users and tokens (viewer / operator / admin)",
    "report": "green-power ratio, carbon and cost report (HTML, CSV or XLSX)",
    "study": "annual study: every day of a year planned in sequence, monthly figures",
    "plan-target": "target planner: cheapest measures for an annual green-power ratio",
    "sweep": "annual studies over scenarios and sites on Dask (Pareto summary, resumable)",
}
"""Sub-command modules in ``microgrid.cli`` and their one-line help, in the order ``--help`` lists them.

Only the module of the command being run is imported (its own imports are heavy: pandas, Pyomo, pvlib,
pandapower, pymodbus), so ``microgrid --help`` and ``microgrid validate`` start fast."""


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad arguments; keep that, in one line that says where the usage is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def add_logging_arguments(parser: argparse.ArgumentParser, default=None) -> None:
    """``--log-file`` / ``--log-level``: accepted before the command and after it (long-running commands)."""
    parser.add_argument("--log-file", metavar="PATH", default=default,
                        help="also write the log as JSON lines to PATH (all levels from --log-level)")
    parser.add_argument("--log-level", metavar="LEVEL", default=default,
                        choices=("debug", "info", "warning", "error", "DEBUG", "INFO", "WARNING", "ERROR"),
                        help="our own log level: debug, info (default), warning, error; libraries stay at warning")


def _chosen(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` (the first word that is not an option or an option's value)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in ("--log-file", "--log-level"):
            skip = True
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


class _HelpFromTable:
    """The sub-parsers action, giving each command its one-line help from :data:`COMMANDS`."""

    def __init__(self, subparsers: argparse._SubParsersAction) -> None:
        self._subparsers = subparsers

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self._subparsers.add_parser(name, help=COMMANDS[name], **kwargs)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the command it names is fully built (the others list their help)."""
    parser = _Parser(
        prog="microgrid",
        description="Industrial park green microgrid optimizer and controller.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_logging_arguments(parser, argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = _chosen(argv) if argv is not None else None
    for name in COMMANDS:
        if argv is None or name == chosen:
            importlib.import_module(f"microgrid.cli.{name.replace('-', '_')}").register(_HelpFromTable(subparsers))
        else:
            subparsers.add_parser(name, help=COMMANDS[name], add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
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
