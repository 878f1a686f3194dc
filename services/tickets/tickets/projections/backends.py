"""The history store's two databases: SQLite (embedded, one file) and PostgreSQL (production)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tickets.projections.store import DDL, PROJECTION_NAME, HistoryStore


class SQLiteHistoryStore(HistoryStore):
    """`<data_dir>/tickets-history.sqlite`: WAL, one connection per thread (reads never wait on writes)."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        conn = self._connection()
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cur.close()

    @contextmanager
    def _read(self) -> Iterator[Any]:
        cur = self._connection().cursor()
        try:
            yield cur
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


_NAMED = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


class PostgresHistoryStore(HistoryStore):
    """The same tables in one PostgreSQL schema, through a psycopg connection pool (binary build)."""

    dialect = "postgres"

    def __init__(self, dsn: str, *, schema: str = "public", max_connections: int = 8) -> None:
        from psycopg_pool import ConnectionPool

        def configure(conn: Any) -> None:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.commit()
            # Reads are single statements: autocommit spares each one a ROLLBACK round trip;
            # writes open their transaction explicitly (`_transaction`, `migrate`).
            conn.autocommit = True

        self._schema = schema
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=max_connections, configure=configure, open=True, name="history"
        )
        self._sql_cache: dict[str, str] = {}

    def _convert(self, sql: str) -> str:
        converted = self._sql_cache.get(sql)
        if converted is None:
            converted = _NAMED.sub(r"%(\1)s", sql)
            self._sql_cache[sql] = converted
        return converted

    def _execute(self, cur: Any, sql: str, params: dict[str, Any]) -> None:
        cur.execute(self._convert(sql), params, prepare=True)

    def _executemany(self, cur: Any, sql: str, params: list[dict[str, Any]]) -> None:
        if params:
            cur.executemany(self._convert(sql), params)

    def migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            # One migrating process at a time (replicas starting together): a transaction-scoped lock.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('helpdesk.tickets.history'))")
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            for statement in DDL:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO history_position (name, stream_seq) VALUES (%s, 0) "
                "ON CONFLICT (name) DO NOTHING",
                (PROJECTION_NAME,),
            )

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    def close(self) -> None:
        self._pool.close()
