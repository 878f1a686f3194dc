"""A fresh PostgreSQL schema for one benchmark run, dropped after it (with everything in it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def fresh_schema(dsn: str | None) -> Iterator[str | None]:
    """A new schema `bench_<8 hex digits>` in `dsn`'s database for the block, dropped after; None
    (and nothing done) without a DSN, for a run on SQLite."""
    if not dsn:
        yield None
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')
