"""One SQL connection to the store's own database (the same SQLite file, or the same PostgreSQL schema),
for the read models this service persists next to its events.

Statements are written once with `:name` parameters and run on either backend. Every use holds one
lock, so the blocking calls the async code makes from worker threads never interleave transactions on
the one connection. `transaction()` takes the write lock at its start (SQLite `BEGIN IMMEDIATE`;
PostgreSQL callers lock a row with `for_update`), so replicas following one store take turns.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import psycopg

Dialect = Literal["sqlite", "postgres"]
Params = Mapping[str, object]
_NAMED = re.compile(r"(?<![:\w]):(\w+)")


class SqlDatabase:
    def __init__(self, *, dialect: Dialect, sqlite_path: Path | None = None, dsn: str = "", schema: str = ""):
        self.dialect = dialect
        self._sqlite_path = sqlite_path
        self._dsn = dsn
        self._schema = schema
        self._lock = threading.RLock()
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: psycopg.Connection[Any] | None = None

    @classmethod
    def sqlite(cls, path: Path) -> SqlDatabase:
        return cls(dialect="sqlite", sqlite_path=path)

    @classmethod
    def postgres(cls, dsn: str, *, schema: str = "") -> SqlDatabase:
        return cls(dialect="postgres", dsn=dsn, schema=schema)

    def table(self, name: str) -> str:
        """`name`, qualified with the PostgreSQL schema when one is configured."""
        return f'"{self._schema}".{name}' if self.dialect == "postgres" and self._schema else name

    @property
    def for_update(self) -> str:
        """Suffix that locks the selected rows (SQLite's `BEGIN IMMEDIATE` locked the file already)."""
        return " FOR UPDATE" if self.dialect == "postgres" else ""

    def sql(self, statement: str) -> str:
        """`:name` parameters in the driver's style."""
        return statement if self.dialect == "sqlite" else _NAMED.sub(r"%(\1)s", statement)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._lock:
            if self.dialect == "sqlite":
                conn = self._sqlite_connection()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield Transaction(self, conn.cursor())
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                pg = self._postgres_connection()
                # Pipeline mode: the statements of a batch go out without a round trip each.
                with pg.pipeline(), pg.transaction(), pg.cursor() as cursor:
                    yield Transaction(self, cursor)

    def query(self, statement: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        """One read outside any explicit transaction."""
        with self._lock:
            if self.dialect == "sqlite":
                return list(self._sqlite_connection().execute(self.sql(statement), params or {}).fetchall())
            with self._postgres_connection().cursor() as cursor:
                cursor.execute(self.sql(statement), params or {})
                return list(cursor.fetchall())

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None
            if self._postgres is not None:
                self._postgres.close()
                self._postgres = None

    def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            assert self._sqlite_path is not None
            # Autocommit mode: transactions are explicit (`BEGIN IMMEDIATE`); reads see the latest commit.
            self._sqlite = sqlite3.connect(
                self._sqlite_path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._sqlite.execute("PRAGMA busy_timeout = 10000")
        return self._sqlite

    def _postgres_connection(self) -> psycopg.Connection[Any]:
        if self._postgres is not None and (self._postgres.closed or self._postgres.broken):
            self._postgres = None  # the server went away: reconnect on this call
        if self._postgres is None:
            self._postgres = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        return self._postgres


class Transaction:
    """The statements of one transaction, with `:name` parameters on either backend."""

    def __init__(self, db: SqlDatabase, cursor: Any) -> None:
        self._db = db
        self._cursor = cursor

    def execute(self, statement: str, params: Params | None = None) -> None:
        self._cursor.execute(self._db.sql(statement), params or {})

    def fetch(self, statement: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._db.sql(statement), params or {})
        return list(self._cursor.fetchall())
