"""``microgrid users``: API users and their tokens (stored hashed in the store; a token is printed once).

Examples::

    microgrid users --site site_configs/putian_hitech add li.wei --role operator
    microgrid users --store sqlite:///var/putian_hitech.sqlite list
    microgrid users --site site_configs/putian_hitech disable li.wei
    microgrid users --site site_configs/putian_hitech rotate li.wei     # new token; the old one stops working
    microgrid users --site site_configs/putian_hitech passwd li.wei     # dashboard password (asked twice)
    printf '%s\n' "$PW" | microgrid users add li.wei --role operator --password-stdin

The store is ``--store URL``, else ``$MICROGRID_STORE_URL``, else the default SQLite store of ``--site``
(``$MICROGRID_DATA_DIR/<site id>.sqlite``, the one ``microgrid run`` uses by default), else the only site
store in that data directory (``./var`` by default), so ``microgrid users add NAME --role operator`` works
on a machine that runs one park.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from microgrid.cli import validators as valid
from microgrid.errors import UserError

ROLES = ("viewer", "operator", "admin")
STORE_ENV = "MICROGRID_STORE_URL"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "users",
        description="Create, list, disable and re-issue users. Tokens (for API clients) and dashboard passwords "
        "are stored only as salted scrypt hashes; a token is printed once, when issued.",
    )
    parser.add_argument("--store", metavar="URL", type=valid.store_url, help=f"store database URL (default: ${STORE_ENV}, else the "
                        "default SQLite store of --site)")
    parser.add_argument("--site", metavar="PATH", help="site directory or site.yaml (for its default store)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create a user and print its token (once)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer", help="default: viewer")
    add.add_argument("--password-stdin", action="store_true",
                     help="also set the dashboard password, read from the first line of standard input")
    passwd = sub.add_parser("passwd", help="set a user's dashboard password (asked twice on a terminal; "
                            "sessions opened with the old one end)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input (for scripts)")
    actions = [add, passwd, sub.add_parser("list", help="list users and roles")]
    for action, text in (("disable", "disable a user (its token stops working)"), ("enable", "enable a user again"),
                         ("rotate", "issue a new token for a user and print it (the old one stops working)")):
        p = sub.add_parser(action, help=text)
        p.add_argument("name")
        actions.append(p)
    role = sub.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    actions.append(role)
    for p in actions:  # --store / --site also after the action: `microgrid users add NAME --site PATH`
        p.add_argument("--store", metavar="URL", type=valid.store_url, default=argparse.SUPPRESS,
                       help="store database URL")
        p.add_argument("--site", metavar="PATH", default=argparse.SUPPRESS, help="site directory or site.yaml")
    parser.set_defaults(func=run)


def store_url(args: argparse.Namespace) -> str:
    """The store URL from the arguments and environment (see module docstring)."""
    if args.store:
        return args.store
    if os.environ.get(STORE_ENV):
        return os.environ[STORE_ENV]
    if args.site:
        from microgrid.site import load_site
        from microgrid.store import default_url

        return default_url(load_site(args.site).id)
    return _only_store_in_data_dir()


def _only_store_in_data_dir() -> str:
    """The one site store in the data directory (``$MICROGRID_DATA_DIR`` or ``./var``), as ``microgrid run`` uses."""
    from microgrid.store.engine import DATA_DIR_ENV

    base = Path(os.environ.get(DATA_DIR_ENV) or "var")
    found = sorted(base.glob("*.sqlite")) if base.is_dir() else []
    if len(found) == 1:
        return f"sqlite:///{found[0]}"
    hint = (f"pass --site PATH (its store is {base}/<site id>.sqlite, the one `microgrid run SITE` uses), "
            f"--store URL, or set {STORE_ENV}")
    if not found:
        raise UserError(f"no site store in {base}/ yet: {hint}")
    raise UserError(f"{len(found)} site stores in {base}/ ({', '.join(p.name for p in found)}): {hint}")


def open_users(url: str):
    """Only the users part of :class:`microgrid.store.Store` on ``url`` (managing users needs no site id)."""
    from microgrid.store import schema
    from microgrid.store.engine import make_engine
    from microgrid.store.users import UsersMixin

    class UsersStore(UsersMixin):
        def __init__(self, engine) -> None:
            self.engine = engine

        def close(self) -> None:
            self.engine.dispose()

    engine = make_engine(url)
    schema.migrate(engine)
    return UsersStore(engine)


def _print_token(name: str, role: str, token: str) -> None:
    print(f"user '{name}' ({role}); token (shown once, keep it secret):")
    print(token)
    if sys.stdout.isatty():
        print("use it as 'Authorization: Bearer <token>' or paste it on the dashboard's sign-in page")


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin with ``--password-stdin``, else asked twice on the terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("--password-stdin: standard input is empty: pipe the password in")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask for the password: pass --password-stdin and pipe it in")
    import getpass

    first = getpass.getpass("new dashboard password: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ: nothing changed, try again")
    return first


def run(args: argparse.Namespace) -> int:
    from microgrid.store.passwords import check_policy

    password = None
    if args.action == "passwd" or getattr(args, "password_stdin", False):
        password = read_password(args.password_stdin)
        check_policy(password, args.name)  # before anything is stored: `add` creates the user only if it passes
    users = open_users(store_url(args))
    try:
        if args.action == "add":
            user, token = users.create_user(args.name, args.role)
            if password is not None:
                users.set_password(user.name, password)
                print(f"dashboard password set for '{user.name}'")
            _print_token(user.name, str(user.role), token)
        elif args.action == "passwd":
            users.set_password(args.name, password)
            print(f"dashboard password of '{args.name}' set; sessions opened with the old one have ended")
        elif args.action == "list":
            rows = users.users()
            if not rows:
                print("no users yet: add one with `microgrid users add NAME --role operator`")
            for u in rows:
                state = "disabled" if u.disabled else "active"
                login = "password" if u.has_password else "token only"
                print(f"{u.name:<24} {u.role!s:<9} {state:<9} {login:<10} created {u.created_at:%Y-%m-%d %H:%M} UTC")
        elif args.action in ("disable", "enable"):
            user = users.set_user_disabled(args.name, args.action == "disable")
            print(f"user '{user.name}' {'disabled' if user.disabled else 'enabled'}")
        elif args.action == "rotate":
            token = users.rotate_token(args.name)
            _print_token(args.name, str(users.user(args.name).role), token)
        elif args.action == "role":
            user = users.set_user_role(args.name, args.role)
            print(f"user '{user.name}' is now {user.role}")
    finally:
        users.close()
    return 0
