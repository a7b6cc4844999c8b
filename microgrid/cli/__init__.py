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

COMMANDS: tuple[str, ...] = ("validate", "optimize", "check", "sim", "run", "devices", "users", "report", "study",
                             "plan-target")
"""Sub-command modules in ``microgrid.cli``, in the order ``--help`` lists them."""


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on bad arguments; keep that, in one line that says where the usage is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="microgrid",
        description="Industrial park green microgrid optimizer and controller.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"microgrid.cli.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
