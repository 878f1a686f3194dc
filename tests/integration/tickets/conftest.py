"""Fixtures the tickets integration suites share."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tickets.projections.store import HistoryStore, open_postgres, open_sqlite


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Makes history stores (one per name) on the backend under test."""
    made: list[HistoryStore] = []

    def make(name: str = "history") -> HistoryStore:
        store: HistoryStore
        if request.param == "sqlite":
            store = open_sqlite(tmp_path / f"{name}.sqlite")
        else:
            dsn = request.getfixturevalue("postgres_dsn")
            schema = request.getfixturevalue("postgres_schema")
            store = open_postgres(dsn, schema=f"{schema}_{name}")
        store.migrate()
        made.append(store)
        return store

    yield make
    for store in made:
        if store.dialect == "postgres":
            with contextlib.suppress(Exception), store.db.connection() as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{store.db.schema}" CASCADE')
        store.close()
