"""Connect to the catalog database and bring its schema to the newest revision.

SQLite (the embedded default) is set up for many readers and writers across
threads and processes: WAL journal, a 30 s busy timeout, foreign keys on, and
``BEGIN IMMEDIATE`` for write transactions. Taking the write lock up front means two
transactions never both read and then both try to upgrade to writing, a deadlock
SQLite resolves by failing one of them at once, without waiting.

Durability: SQLite runs with ``synchronous = NORMAL`` in WAL mode: a commit is in
the WAL file (so it survives the process being killed) but is fsynced only at
checkpoints, so an OS crash or power loss can lose the last commits before one (the
database stays consistent). PostgreSQL keeps its own settings.

Migrations are Alembic revisions shipped in ``catalog/migrations`` and applied on
open, under a lock (SQLite: the immediate transaction; PostgreSQL: a transaction
advisory lock) so that processes opening a fresh catalog together do not race.

``StateDatabase.rows`` and ``first`` run a prepared read on the pooled driver
connection, for the few reads every request makes: the same answer as ``read()``
and ``execute``, at a fraction of SQLAlchemy's per-statement cost.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Dialect, Engine, Executable, Select, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import UpdateBase

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that marks an engine's transactions as writes (BEGIN IMMEDIATE).
WRITE_OPTION = "shoal_write"
# One advisory-lock key for "migrating the shoal catalog" in a PostgreSQL database.
_PG_MIGRATION_LOCK = zlib.crc32(b"shoal.catalog.migrate")


def create_catalog_engine(url: str | URL) -> Engine:
    """An engine for a catalog URL (``sqlite:///path``, ``postgresql+psycopg://…``)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        return _sqlite_engine(sa_url)
    return create_engine(sa_url, pool_pre_ping=True)


def writer(engine: Engine) -> Engine:
    """The same engine (and pool) with write transactions."""
    return engine.execution_options(**{WRITE_OPTION: True})


def is_memory_sqlite(url: URL) -> bool:
    """Whether ``url`` names a private in-memory SQLite database."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {}
    if is_memory_sqlite(url):
        # Each connection to :memory: is a new database; share one (the store serialises).
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    elif url.database and not url.query.get("uri"):
        # SQLite creates a missing file but not its folder.
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Stop the sqlite3 module from issuing its own BEGIN; _sqlite_on_begin does it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching a fresh file to WAL takes a lock we may wait on.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL (a no-op once the file is in WAL mode: the mode is persistent).

    Switching a fresh file needs an exclusive lock, and SQLite does not always wait for
    it (the busy handler is skipped where waiting could deadlock), so processes opening
    a new catalog together retry here, within the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_on_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# --- migrations ------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str | None:
    """The newest migration revision shipped with this package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the catalog database is at (None when it has no schema yet)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Upgrade the catalog schema to the newest revision; a no-op when it is there."""
    if current_revision(engine) == head_revision():
        return  # the common case, answered by one read without taking any lock
    with writer(engine).connect() as conn, conn.begin():
        # Both locks last until commit; a process waiting on them then finds the
        # schema at head and Alembic does nothing.
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        command.upgrade(alembic_config(conn), "head")


class StateDatabase:
    """The one SQL database holding shoal's state: catalog, crawlers, query
    executions, identities. Services share it; each owns its own tables.

    Opening it migrates the schema to the newest revision. Safe to share between
    threads; ``read()`` and ``write()`` give a connection inside a transaction.
    """

    def __init__(self, url: str) -> None:
        sa_url = make_url(url)
        self.url = sa_url
        self.engine = create_catalog_engine(sa_url)
        self._writer = writer(self.engine)
        # An in-memory database is one shared connection: one user at a time.
        self._serial: AbstractContextManager[Any] = (
            threading.RLock() if is_memory_sqlite(sa_url) else nullcontext()
        )
        self._prepared: dict[Executable, _Prepared] = {}
        with self._serial:
            migrate(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction."""
        with self._serial, self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction (BEGIN IMMEDIATE on SQLite)."""
        with self._serial, self._writer.begin() as conn:
            yield conn

    # -- prepared statements, for the few every request or query makes --------------

    def first(self, statement: Select[Any], params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row of ``statement`` (by column key), or None; see ``rows``."""
        found = self._run(statement, params, rows=1)[0]
        return found[0] if found else None

    def rows(self, statement: Select[Any], params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row of ``statement`` (by column key): what ``read()`` and
        ``conn.execute(statement, params)`` give, without SQLAlchemy's per-statement
        work (``statement`` is compiled once and run on the pooled driver connection).

        ``statement`` must be built once (a module constant, or cached: it is compiled
        once per database and kept) and take its values only through ``bindparam()``.
        """
        return self._run(statement, params, rows=None)[0]

    def execute(self, statement: UpdateBase, params: Mapping[str, Any]) -> int:
        """Run one INSERT, UPDATE or DELETE in a write transaction of its own (BEGIN
        IMMEDIATE on SQLite), as ``write()`` would; the number of rows it touched.

        Same rules for ``statement`` as ``rows``.

        Raises:
            sqlalchemy.exc.IntegrityError: a constraint refused the change (and other
                ``DBAPIError`` subclasses, as ``write()`` would).
        """
        return self._run(statement, params, rows=0)[1]

    def _run(
        self, statement: Executable, params: Mapping[str, Any], rows: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        """``rows`` rows of ``statement`` (all when None); 0: run it as a write."""
        dialect = self.engine.dialect
        prepared = self._prepared.get(statement)
        if prepared is None:
            prepared = _Prepared.of(statement, dialect)
            self._prepared[statement] = prepared
        parameters = prepared.parameters(params)
        with self._serial:
            raw = self.engine.raw_connection()  # pooled; given back with a rollback
            try:
                cursor = raw.cursor()
                try:
                    if rows == 0:
                        return [], _write(raw, cursor, prepared.sql, parameters, dialect)
                    cursor.execute(prepared.sql, parameters)
                    found = cursor.fetchall() if rows is None else cursor.fetchmany(rows)
                finally:
                    cursor.close()
            except dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy would raise it
                base = dialect.loaded_dbapi.Error
                raise DBAPIError.instance(prepared.sql, parameters, exc, base) from exc
            finally:
                raw.close()
        return [prepared.values(row) for row in found], len(found)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _write(raw: Any, cursor: Any, sql: str, parameters: Any, dialect: Dialect) -> int:
    """One statement in a transaction of its own on a driver connection; its rowcount."""
    sqlite = dialect.name == "sqlite"
    try:
        if sqlite:  # autocommit mode (see _sqlite_on_connect): take the write lock first
            cursor.execute("BEGIN IMMEDIATE")
        cursor.execute(sql, parameters)
        count = int(cursor.rowcount)
        if sqlite:
            cursor.execute("COMMIT")
        else:
            raw.commit()
    except BaseException:
        raw.rollback()  # sqlite3 too: it rolls back when a transaction is open
        raise
    return count


Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for one dialect, with SQLAlchemy's own type processors."""

    sql: str
    order: tuple[str, ...] | None  # parameter names in order, for positional styles
    binds: tuple[tuple[str, str, Processor], ...]  # (key, name in the SQL, processor)
    keys: tuple[str, ...]  # result columns
    processors: tuple[Processor, ...]

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect) -> _Prepared:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        binds = []
        for bind in compiled.binds.values():
            if bind.value is not None or bind.callable is not None or bind.expanding:
                raise ValueError(f"prepared statements take values by bindparam(): {bind.key}")
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            binds.append((str(bind.key), compiled.bind_names[bind], processor))
        columns = list(statement.selected_columns) if isinstance(statement, Select) else []
        return cls(
            sql=str(compiled),
            order=tuple(compiled.positiontup or ()) if compiled.positional else None,
            binds=tuple(binds),
            keys=tuple(str(column.key) for column in columns),
            processors=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ),
        )

    def parameters(self, params: Mapping[str, Any]) -> Any:
        values = {}
        for key, name, processor in self.binds:
            value = params[key]
            values[name] = value if processor is None else processor(value)
        if self.order is not None:
            return tuple(values[name] for name in self.order)
        return values

    def values(self, row: Any) -> dict[str, Any]:
        return {
            key: value if processor is None else processor(value)
            for key, processor, value in zip(self.keys, self.processors, row, strict=True)
        }
