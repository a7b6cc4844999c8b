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
from microgrid.i18n import LANG_ENV, current_lang, has, set_lang, t

COMMANDS: dict[str, str] = {
    "validate": "check a site file and print its summary",
    "optimize": "plan the dispatch of a site for a day (Pyomo + HiGHS)",
    "check": "AC power-flow check of a schedule (voltages, loadings, losses)",
    "sim": "simulate a site's devices over Modbus TCP (physics, faults, clock)",
    "run": "run the controller on a site (real devices, or the simulator with --sim)",
    "devices": "read every device once (point table) or write one setpoint",
    "users": "manage users: dashboard passwords and API tokens (viewer / operator / admin)",
    "report": "green-power ratio, carbon and cost report (HTML, CSV or XLSX)",
    "study": "annual study: every day of a year planned in sequence, monthly figures",
    "plan-target": "target planner: cheapest measures for an annual green-power ratio",
    "sweep": "annual studies over scenarios and sites on Dask (Pareto summary, resumable)",
}
"""Sub-command modules in ``microgrid.cli`` and their one-line help, in the order ``--help`` lists them.

Only the module of the command being run is imported (its own imports are heavy: pandas, Pyomo, pvlib,
pandapower, pymodbus), so ``microgrid --help`` and ``microgrid validate`` start fast."""


def tr(key: str, /, **params: object) -> str:
    """Catalogue entry ``cli.<key>`` in the command line's language: help texts (``cli.help.*``) and command
    descriptions (``cli.desc.*``) of the sub-commands."""
    return t(f"cli.{key}", current_lang(), **params)


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad arguments; keep that, in one line that says where the usage is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, t("cli.usage_error", current_lang(), message=message, prog=self.prog) + "\n")


def add_logging_arguments(parser: argparse.ArgumentParser, default=None) -> None:
    """``--log-file`` / ``--log-level``: accepted before the command and after it (long-running commands)."""
    parser.add_argument("--log-file", metavar="PATH", default=default,
                        help=tr("help.log-file"))
    parser.add_argument("--log-level", metavar="LEVEL", default=default,
                        choices=("debug", "info", "warning", "error", "DEBUG", "INFO", "WARNING", "ERROR"),
                        help=tr("help.log-level"))


def _chosen(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` (the first word that is not an option or an option's value)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in ("--log-file", "--log-level", "--lang"):
            skip = True
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def command_help(name: str) -> str:
    """The one-line help of a command in the output language (:data:`COMMANDS` is the English text)."""
    return t(f"cli.cmd.{name}", current_lang()) if current_lang() != "en" else COMMANDS[name]


def _lang_in(argv: Sequence[str]) -> str | None:
    """The value of ``--lang`` in ``argv`` (``--lang X`` or ``--lang=X``), before parsing (help texts need it)."""
    for i, word in enumerate(argv):
        if word == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--lang="):
            return word.split("=", 1)[1]
    return None


class _HelpFromTable:
    """The sub-parsers action, giving each command its one-line help from :data:`COMMANDS`."""

    def __init__(self, subparsers: argparse._SubParsersAction) -> None:
        self._subparsers = subparsers

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self._subparsers.add_parser(name, help=command_help(name), **kwargs)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the command it names is fully built (the others list their help)."""
    parser = _Parser(
        prog="microgrid",
        description=t("cli.description", current_lang()),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}", help=tr("help.version"))
    parser.add_argument("--lang", choices=("en", "zh-CN"), default=None,
                        help=tr("help.lang", env=LANG_ENV))
    add_logging_arguments(parser, argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = _chosen(argv) if argv is not None else None
    for name in COMMANDS:
        if argv is None or name == chosen:
            importlib.import_module(f"microgrid.cli.{name.replace('-', '_')}").register(_HelpFromTable(subparsers))
        else:
            subparsers.add_parser(name, help=command_help(name), add_help=False)
    return parser


def _argparse_text(message: str) -> str:
    """argparse's own words ("usage:", "options", ...) in the output language (argparse looks ``_`` up when
    it formats, so replacing the module's ``_`` for the duration of :func:`main` is enough)."""
    key = f"argparse.{message}"
    return t(key, current_lang()) if has(key) else message


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    set_lang(_lang_in(argv))  # before the parser: its help texts are in this language
    gettext = argparse._  # type: ignore[attr-defined]
    argparse._ = _argparse_text  # type: ignore[attr-defined]
    try:
        return _main(argv)
    finally:
        argparse._ = gettext  # type: ignore[attr-defined]
        set_lang(None)


def _main(argv: list[str]) -> int:
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
        print(t("cli.error", current_lang(), message=exc.text(current_lang())), file=sys.stderr)
        for problem in exc.problems_in(current_lang()):
            print(f"  {problem}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(t("cli.interrupted", current_lang()), file=sys.stderr)
        return 130
    finally:
        remove_handlers()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
