"""Tables of the store (SQLAlchemy Core, dialect-neutral) and their migrations.

Timestamps are BIGINT milliseconds since the epoch (UTC), so SQLite and PostgreSQL store, sort and bucket
them the same way (``ts_ms - ts_ms % 60000`` is a minute). Every table except ``users`` carries
``site_id`` so several sites may share one PostgreSQL database. The applied schema versions are recorded in
``schema_migrations``; :func:`migrate` brings any older store up to :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from microgrid.store.engine import StoreError

SCHEMA_VERSION = 2

metadata = sa.MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Id = sa.String(64)

schema_migrations = sa.Table(
    "schema_migrations", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_ms", sa.BigInteger, nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
)

store_state = sa.Table(
    "store_state", metadata,
    sa.Column("site_id", Id, primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=True),
    sa.Column("text", sa.Text, nullable=True),
)
"""Per-site settings and watermarks (``interval_min``, roll-up progress)."""

telemetry = sa.Table(
    "telemetry", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("site_id", Id, nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("source_id", Id, nullable=False),
    sa.Column("quantity", sa.String(64), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("quality", sa.SmallInteger, nullable=False, default=0),
    sa.Index("ix_telemetry_source", "site_id", "source_id", "quantity", "ts_ms"),
    sa.Index("ix_telemetry_ts", "site_id", "ts_ms"),
)
"""Raw samples, kept for ``Retention.raw``."""

telemetry_1min = sa.Table(
    "telemetry_1min", metadata,
    sa.Column("site_id", Id, primary_key=True),
    sa.Column("source_id", Id, primary_key=True),
    sa.Column("quantity", sa.String(64), primary_key=True),
    sa.Column("ts_ms", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("mean", sa.Float, nullable=False),
    sa.Column("min", sa.Float, nullable=False),
    sa.Column("max", sa.Float, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("quality", sa.SmallInteger, nullable=False),
    sa.Index("ix_telemetry_1min_ts", "site_id", "ts_ms"),
)
"""1-minute averages, kept for ``Retention.minute``."""

interval_energy = sa.Table(
    "interval_energy", metadata,
    sa.Column("site_id", Id, primary_key=True),
    sa.Column("source_id", Id, primary_key=True),
    sa.Column("quantity", sa.String(64), primary_key=True),
    sa.Column("ts_ms", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("interval_min", sa.SmallInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("coverage_pct", sa.Float, nullable=False),
    sa.Column("flag", sa.String(16), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("n_samples", sa.Integer, nullable=False, default=0),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_interval_energy_ts", "site_id", "ts_ms"),
)
"""Interval energies per meter/asset, kept forever (the reports' input)."""

schedules = sa.Table(
    "schedules", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("site_id", Id, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("horizon_start_ms", sa.BigInteger, nullable=False),
    sa.Column("horizon_end_ms", sa.BigInteger, nullable=False),
    sa.Column("step_min", sa.SmallInteger, nullable=False),
    sa.Column("frame_json", sa.Text, nullable=False),
    sa.Column("inputs_json", sa.Text, nullable=False, default="{}"),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.UniqueConstraint("site_id", "day", "version", name="uq_schedules_day_version"),
)

schedule_kpis = sa.Table(
    "schedule_kpis", metadata,
    sa.Column("schedule_id", BigId, sa.ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("text", sa.Text, nullable=True),
)
"""Flattened KPIs of a schedule version (``cost_breakdown_cny.energy_import``): numbers in ``value``,
anything else as JSON in ``text``. Written in the same transaction as the schedule."""

setpoint_writes = sa.Table(
    "setpoint_writes", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("site_id", Id, nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("device_id", Id, nullable=False),
    sa.Column("point", sa.String(64), nullable=False),
    sa.Column("asset_id", Id, nullable=True),
    sa.Column("old_value", sa.Float, nullable=True),
    sa.Column("new_value", sa.Float, nullable=False),
    sa.Column("result", sa.String(24), nullable=False),
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("schedule_id", sa.BigInteger, nullable=True),
    sa.Index("ix_setpoint_writes_ts", "site_id", "ts_ms"),
    sa.Index("ix_setpoint_writes_point", "site_id", "device_id", "point", "id"),
)

events = sa.Table(
    "events", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("site_id", Id, nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("source_id", Id, nullable=False, default=""),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("data_json", sa.Text, nullable=False, default="{}"),
    sa.Index("ix_events_ts", "site_id", "ts_ms"),
)

alarms = sa.Table(
    "alarms", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("site_id", Id, nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("source_id", Id, nullable=False, default=""),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("raised_ms", sa.BigInteger, nullable=False),
    sa.Column("last_ms", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False, default=1),
    sa.Column("cleared_ms", sa.BigInteger, nullable=True),
    sa.Column("acked_ms", sa.BigInteger, nullable=True),
    sa.Column("acked_by", sa.String(64), nullable=True),
    sa.Index("ix_alarms_code", "site_id", "code", "source_id", "cleared_ms"),
    sa.Index("ix_alarms_raised", "site_id", "raised_ms"),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_key", sa.String(16), nullable=True, unique=True),
    sa.Column("token_salt", sa.String(32), nullable=True),
    sa.Column("token_hash", sa.String(128), nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("password_hash", sa.String(256), nullable=True),
    sa.Column("password_key", sa.String(16), nullable=True),
)
"""API users: role viewer/operator/admin; ``token_key`` in clear finds the row, the secret part of the
token is stored only as ``scrypt(secret, token_salt)``. ``password_hash`` (``scrypt$N$r$p$salt$hash``) is set
once a dashboard password is; ``password_key`` changes with every new password (it ends older sessions)."""


class StoreSchemaError(StoreError):
    """The store's schema cannot be used by this software."""


def _v1(conn: sa.Connection) -> None:
    """Initial schema: every table above."""
    metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t.name != "schema_migrations"])


_V2_USER_COLUMNS = {"password_hash": sa.String(256), "password_key": sa.String(16)}


def _v2(conn: sa.Connection) -> None:
    """Dashboard passwords: two nullable columns on ``users`` (a store created at v2 already has them)."""
    present = {c["name"] for c in sa.inspect(conn).get_columns("users")}
    for name, kind in _V2_USER_COLUMNS.items():
        if name not in present:
            conn.execute(sa.text(f"ALTER TABLE users ADD COLUMN {name} {kind.compile(dialect=conn.dialect)}"))


MIGRATIONS: dict[int, tuple[str, Callable[[sa.Connection], None]]] = {
    1: ("initial schema: telemetry, 1-min, interval energy, schedules, audit, events, alarms, users", _v1),
    2: ("dashboard passwords: users.password_hash, users.password_key", _v2),
}
"""Version → (description, function). Add a function per schema change; never edit an applied one."""


def current_version(conn: sa.Connection) -> int:
    """Highest applied schema version (0 for an empty database)."""
    if not sa.inspect(conn).has_table("schema_migrations"):
        return 0
    value = conn.execute(sa.select(sa.func.max(schema_migrations.c.version))).scalar()
    return int(value or 0)


def migrate(engine: sa.Engine) -> int:
    """Create or upgrade the schema to :data:`SCHEMA_VERSION`; each step in its own transaction."""
    with engine.begin() as conn:
        schema_migrations.create(conn, checkfirst=True)
        version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreSchemaError(
            f"store schema version {version} is newer than this software supports ({SCHEMA_VERSION}); "
            "upgrade park-microgrid or open another store")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        description, step = MIGRATIONS[target]
        with engine.begin() as conn:
            if current_version(conn) >= target:  # another process got there first
                continue
            step(conn)
            conn.execute(schema_migrations.insert().values(
                version=target, applied_ms=int(time.time() * 1000), description=description))
    return SCHEMA_VERSION
