"""Database engines: SQLite in WAL mode by default, PostgreSQL (or any SQLAlchemy URL) when given."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from microgrid.errors import UserError

DATA_DIR_ENV = "MICROGRID_DATA_DIR"
"""Directory of the default SQLite stores (default ``./var``)."""


class StoreError(UserError):
    """The store cannot be opened or used (bad URL, missing driver, newer schema)."""

    exit_code = 2


class StoreUnavailable(StoreError):
    """The database did not answer or refused a write (locked, read-only, disconnected)."""

    exit_code = 4


def default_url(site_id: str, data_dir: str | Path | None = None) -> str:
    """``sqlite:///<data_dir>/<site_id>.sqlite`` with ``data_dir`` from the argument, ``$MICROGRID_DATA_DIR``
    or ``./var``."""
    base = Path(data_dir or os.environ.get(DATA_DIR_ENV) or "var")
    return f"sqlite:///{base / f'{site_id}.sqlite'}"


def is_memory_sqlite(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")




def check_url(url: str) -> sa.URL:
    """``url`` parsed, when it names a database SQLAlchemy knows (:class:`StoreError` otherwise); opens
    nothing, so callers can check ``--store`` before they start or write anything."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError.of("uerr.store_not_url", url=url) from None
    try:
        parsed.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise StoreError.of("uerr.store_unknown_db", url=parsed.render_as_string(hide_password=True),
                            driver=parsed.drivername) from None
    except ModuleNotFoundError:
        pass  # the dialect is known, its driver is missing: make_engine says which one
    return parsed


def make_engine(url: str, *, busy_timeout_s: float = 5.0, echo: bool = False) -> sa.Engine:
    """An engine for ``url``. SQLite files get WAL journalling, ``synchronous=NORMAL``, foreign keys and a
    busy timeout; their directory is created. Other backends get ``pool_pre_ping``."""
    parsed = check_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_s}
        if is_memory_sqlite(parsed):
            kwargs["poolclass"] = StaticPool
        elif parsed.database and not parsed.database.startswith("file:"):
            directory = Path(parsed.database).expanduser().parent
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError.of("uerr.store_no_dir", url=url, directory=str(directory),
                                    reason=str(exc.strerror or exc)) from None
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except ModuleNotFoundError as exc:
        raise StoreError.of("uerr.store_no_driver", url=parsed.render_as_string(hide_password=True),
                            driver=exc.name).with_problem("uerr.store_no_driver_hint", driver=exc.name) from None
    if backend == "sqlite":
        memory = is_memory_sqlite(parsed)
        busy_ms = int(busy_timeout_s * 1000)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - exercised via every test
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

    return engine


def executemany(conn: sa.Connection, stmt, rows: list[dict]) -> None:
    """``stmt`` for every row, compiled once and handed to the driver's ``executemany`` (SQLAlchemy's
    per-row parameter processing dominates for the controller's large telemetry batches). Only for plain
    columns (numbers, strings) whose values need no type processing."""
    if not rows:
        return
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(rows[0]))
    names = compiled.positiontup if compiled.positional else None
    if names is not None:
        params = [tuple(row[n] for n in names) for row in rows]
    else:
        params = rows
    conn.exec_driver_sql(str(compiled), params)


def fetch_rows(conn: sa.Connection, stmt) -> list[tuple]:
    """Rows of a SELECT as plain tuples straight from the driver (no SQLAlchemy row objects; for the bulk
    reads of the roll-up). Only for columns whose values need no type processing."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args = tuple(params[n] for n in compiled.positiontup) if compiled.positional else params
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        return cursor.fetchall()
    finally:
        cursor.close()


def upsert(conn: sa.Connection, table: sa.Table, rows: list[dict], keys: list[str]) -> None:
    """Insert ``rows`` (executemany), replacing rows with the same primary ``keys``."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        stmt = insert(table)
        update = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        executemany(conn, stmt.on_conflict_do_update(index_elements=keys, set_=update), rows)
        return
    # Other dialects: delete then insert in the caller's transaction.
    for row in rows:
        conn.execute(table.delete().where(sa.and_(*(table.c[k] == row[k] for k in keys))))
    conn.execute(table.insert(), rows)
