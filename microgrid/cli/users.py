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

from microgrid.cli import tr
from microgrid.cli import validators as valid
from microgrid.errors import UserError
from microgrid.i18n import current_lang, t

ROLES = ("viewer", "operator", "admin")
STORE_ENV = "MICROGRID_STORE_URL"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "users",
        description=tr("desc.users"),
    )
    parser.add_argument("--store", metavar="URL", type=valid.store_url, help=tr("help.users.store-default", env=STORE_ENV))
    parser.add_argument("--site", metavar="PATH", help=tr("help.users.site"))
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help=tr("help.users.add"))
    add.add_argument("name", help=tr("help.users.name"))
    add.add_argument("--role", choices=ROLES, default="viewer", help=tr("help.users.role"))
    add.add_argument("--password-stdin", action="store_true",
                     help=tr("help.users.password-stdin"))
    passwd = sub.add_parser("passwd", help=tr("help.users.passwd"))
    passwd.add_argument("name", help=tr("help.users.name"))
    passwd.add_argument("--password-stdin", action="store_true",
                        help=tr("help.users.passwd.password-stdin"))
    actions = [add, passwd, sub.add_parser("list", help=tr("help.users.list"))]
    for action in ("disable", "enable", "rotate"):
        p = sub.add_parser(action, help=tr(f"help.users.{action}"))
        p.add_argument("name", help=tr("help.users.name"))
        actions.append(p)
    role = sub.add_parser("role", help=tr("help.users.role-cmd"))
    role.add_argument("name", help=tr("help.users.name"))
    role.add_argument("role", choices=ROLES, help=tr("help.users.new-role"))
    actions.append(role)
    for p in actions:  # --store / --site also after the action: `microgrid users add NAME --site PATH`
        p.add_argument("--store", metavar="URL", type=valid.store_url, default=argparse.SUPPRESS,
                       help=tr("help.users.store"))
        p.add_argument("--site", metavar="PATH", default=argparse.SUPPRESS, help=tr("help.site"))
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
    if not found:
        raise UserError.of("uerr.users_no_store", base=str(base), env=STORE_ENV)
    raise UserError.of("uerr.users_many_stores", n=len(found), base=str(base), env=STORE_ENV,
                       names=", ".join(p.name for p in found))


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


def say(key: str, /, **params: object) -> None:
    """Print catalogue entry ``key`` in the command line's language."""
    print(t(key, current_lang(), **params))


def _print_token(name: str, role: str, token: str) -> None:
    say("users.token", name=name, role=role)
    print(token)
    if sys.stdout.isatty():
        say("users.token_use")


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin with ``--password-stdin``, else asked twice on the terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError.of("uerr.pw_stdin_empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError.of("uerr.pw_no_tty")
    import getpass

    first = getpass.getpass(t("users.pw_prompt", current_lang()))
    if getpass.getpass(t("users.pw_again", current_lang())) != first:
        raise UserError.of("uerr.pw_differ")
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
                say("users.pw_set_new", name=user.name)
            _print_token(user.name, str(user.role), token)
        elif args.action == "passwd":
            users.set_password(args.name, password)
            say("users.pw_set", name=args.name)
        elif args.action == "list":
            rows = users.users()
            if not rows:
                say("users.none")
            for u in rows:
                state = t("users.disabled" if u.disabled else "users.active", current_lang())
                login = t("users.login_password" if u.has_password else "users.login_token", current_lang())
                say("users.row", name=f"{u.name:<24}", role=f"{u.role!s:<9}", state=f"{state:<9}", login=f"{login:<10}",
                    created=f"{u.created_at:%Y-%m-%d %H:%M}")
        elif args.action in ("disable", "enable"):
            user = users.set_user_disabled(args.name, args.action == "disable")
            say("users.now_disabled" if user.disabled else "users.now_enabled", name=user.name)
        elif args.action == "rotate":
            token = users.rotate_token(args.name)
            _print_token(args.name, str(users.user(args.name).role), token)
        elif args.action == "role":
            user = users.set_user_role(args.name, args.role)
            say("users.role_set", name=user.name, role=str(user.role))
    finally:
        users.close()
    return 0
