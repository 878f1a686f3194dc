"""The one SQL layer of the read models services keep beside their event stores: SQLite (embedded,
one file) or PostgreSQL (production, a connection pool), with statements written once.

Statements use `:name` parameters on both backends (turned into psycopg's `%(name)s` once per
statement). Blocking calls: run them in a thread from async code.

- SQLite: one connection per thread in WAL mode, so reads never wait on writes; `transaction()`
  opens with `BEGIN IMMEDIATE`, which takes the file's write lock at its start: writers (threads,
  replicas) take turns instead of failing half-way.
- PostgreSQL: a psycopg pool; reads run in autocommit (one statement, no ROLLBACK round trip),
  writes in an explicit transaction; callers lock the rows they guard with `for_update`. A schema
  given is qualified by `table()` and is the connections' `search_path`.
- `migration(lock=…)` is the transaction of a migration step: on PostgreSQL it creates the schema and
  holds a transaction-scoped advisory lock, so replicas starting together create tables one at a time.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

__all__ = ["Database", "Dialect", "Params", "Row", "Transaction", "half_open"]

Dialect = Literal["sqlite", "postgres"]
Params = Mapping[str, object]
Row = tuple[Any, ...]
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_SQLITE_TIMEOUT_SECONDS = 30.0
_CONNECT_TIMEOUT_SECONDS = 10


class Database:
    """One database: `Database.sqlite(path)` or `Database.postgres(dsn, schema=…)`."""

    def __init__(
        self,
        *,
        dialect: Dialect,
        path: Path | None = None,
        dsn: str = "",
        schema: str = "",
        pool_size: int = 8,
        name: str = "sql",
    ) -> None:
        self.dialect: Dialect = dialect
        self.schema = schema
        self._path = path
        self._local = threading.local()
        self._sqlite: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._converted: dict[str, str] = {}
        self._pool: ConnectionPool[psycopg.Connection[Row]] | None = None
        if dialect == "postgres":
            self._pool = _pool(dsn, schema=schema, size=pool_size, name=name)

    @classmethod
    def sqlite(cls, path: Path) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(dialect="sqlite", path=path)

    @classmethod
    def postgres(cls, dsn: str, *, schema: str = "", pool_size: int = 8, name: str = "sql") -> Database:
        return cls(dialect="postgres", dsn=dsn, schema=schema, pool_size=pool_size, name=name)

    def table(self, name: str) -> str:
        """`name`, qualified with the PostgreSQL schema when one is configured."""
        return f'"{self.schema}".{name}' if self.dialect == "postgres" and self.schema else name

    @property
    def for_update(self) -> str:
        """Suffix that locks the selected rows (SQLite's `BEGIN IMMEDIATE` locked the file already)."""
        return " FOR UPDATE" if self.dialect == "postgres" else ""

    def sql(self, statement: str) -> str:
        """`statement` with its `:name` parameters in the driver's style."""
        if self.dialect == "sqlite":
            return statement
        converted = self._converted.get(statement)
        if converted is None:
            converted = self._converted[statement] = _NAMED.sub(r"%(\1)s", statement)
        return converted

    @contextmanager
    def transaction(self, *, pipeline: bool = False) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back when it raises. `pipeline`
        (PostgreSQL) sends the statements without a round trip each: for batches of writes whose
        row counts are not read."""
        if self.dialect == "sqlite":
            conn = self._sqlite_connection()
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self, cursor)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                cursor.close()
            return
        with self._postgres() as pg:
            if pipeline:
                with pg.pipeline(), pg.transaction(), pg.cursor() as cur:
                    yield Transaction(self, cur)
            else:
                with pg.transaction(), pg.cursor() as cur:
                    yield Transaction(self, cur)

    @contextmanager
    def migration(self, *, lock: str) -> Iterator[Transaction]:
        """The transaction of a migration step; on PostgreSQL one process at a time (the advisory
        lock named `lock`), in the schema, created if missing."""
        with self.transaction() as tx:
            if self.dialect == "postgres":
                tx.execute("SELECT pg_advisory_xact_lock(hashtext(:lock))", {"lock": lock})
                if self.schema:
                    tx.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            yield tx

    def query(self, statement: str, params: Params | None = None) -> list[Row]:
        """The rows of one read outside any explicit transaction."""
        with self._cursor() as cur:
            _execute(cur, self.sql(statement), params)
            return list(cur.fetchall())

    def query_dicts(self, statement: str, params: Params | None = None) -> list[dict[str, Any]]:
        """As `query`, each row a mapping of column name to value."""
        with self._cursor() as cur:
            _execute(cur, self.sql(statement), params)
            return _dicts(cur)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """The driver's own connection (sqlite3 or psycopg, autocommit): for bulk loads and
        maintenance the statements above do not cover."""
        if self.dialect == "sqlite":
            yield self._sqlite_connection()
        else:
            with self._postgres() as pg:
                yield pg

    def close(self) -> None:
        """Release every connection (SQLite: every thread's)."""
        with self._lock:
            for conn in self._sqlite:
                conn.close()
            self._sqlite.clear()
            self._local = threading.local()
        if self._pool is not None:
            self._pool.close()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self.dialect == "sqlite":
            cursor = self._sqlite_connection().cursor()
            try:
                yield cursor
            finally:
                cursor.close()
        else:
            with self._postgres() as pg, pg.cursor() as cur:
                yield cur

    def _sqlite_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self._path is not None, "a SQLite database has a path"
            # Autocommit mode: transactions are explicit (`BEGIN IMMEDIATE`); reads see the latest commit.
            conn = sqlite3.connect(
                self._path, timeout=_SQLITE_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._sqlite.append(conn)
        return conn

    @contextmanager
    def _postgres(self) -> Iterator[psycopg.Connection[Row]]:
        assert self._pool is not None, "a PostgreSQL database has a pool"
        with self._pool.connection() as conn:
            yield conn


class Transaction:
    """The statements of one transaction, with `:name` parameters on either backend."""

    def __init__(self, db: Database, cursor: Any) -> None:
        self._db = db
        self._cursor = cursor

    def execute(self, statement: str, params: Params | None = None) -> int:
        """Run one statement; returns the rows it changed."""
        _execute(self._cursor, self._db.sql(statement), params)
        return int(self._cursor.rowcount)

    def executemany(self, statement: str, params: Sequence[Params]) -> None:
        if params:
            self._cursor.executemany(self._db.sql(statement), params)

    def fetch(self, statement: str, params: Params | None = None) -> list[Row]:
        _execute(self._cursor, self._db.sql(statement), params)
        return list(self._cursor.fetchall())

    def fetch_dicts(self, statement: str, params: Params | None = None) -> list[dict[str, Any]]:
        _execute(self._cursor, self._db.sql(statement), params)
        return _dicts(self._cursor)

    def columns(self, table: str) -> set[str]:
        """The names of `table`'s columns (to add those a later release brought)."""
        self._cursor.execute(f"SELECT * FROM {table} WHERE 1 = 0")  # noqa: S608 -- a table name from code
        self._cursor.fetchall()
        return {d[0] for d in self._cursor.description}


def _execute(cursor: Any, statement: str, params: Params | None) -> None:
    if isinstance(cursor, sqlite3.Cursor):
        cursor.execute(statement, params or {})
    else:
        # Prepared on the server at first use: the views run the same few statements again and again.
        cursor.execute(statement, params or {}, prepare=True)


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _pool(dsn: str, *, schema: str, size: int, name: str) -> ConnectionPool[psycopg.Connection[Row]]:
    def configure(conn: psycopg.Connection[Row]) -> None:
        if schema:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.commit()
        # Reads are single statements: autocommit spares each one a ROLLBACK round trip; writes open
        # their transaction explicitly (`Database.transaction`).
        conn.autocommit = True

    kwargs: dict[str, Any] = {}
    if "connect_timeout" not in conninfo_to_dict(dsn):
        kwargs["connect_timeout"] = _CONNECT_TIMEOUT_SECONDS
    return ConnectionPool(
        dsn, kwargs=kwargs, min_size=1, max_size=size, configure=configure, open=True, name=name
    )


def half_open(
    column: str,
    start: object | None,
    end: object | None,
    *,
    name: str,
    where: list[str],
    params: dict[str, object],
) -> None:
    """Add `start <= column < end` to a read's conditions, each bound only if given, as the
    parameters `<name>_from` and `<name>_to`."""
    if start is not None:
        where.append(f"{column} >= :{name}_from")
        params[f"{name}_from"] = start
    if end is not None:
        where.append(f"{column} < :{name}_to")
        params[f"{name}_to"] = end
