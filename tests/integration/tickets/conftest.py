"""Fixtures the tickets integration suites share."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.natsserver import free_port
from shared.settings import CommonSettings
from tickets.projections.store import HistoryStore, open_postgres, open_sqlite
from tickets.settings import TicketsSettings


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def split_settings(
    request: pytest.FixtureRequest, common_settings: CommonSettings, nats_prefix: str
) -> TicketsSettings:
    """Settings of the split deployment (the API on a free port without relay or projection, those
    as processes of their own), on the backend under test."""
    common = common_settings.model_copy(update={"nats_prefix": nats_prefix})
    extra: dict[str, Any] = {}
    if request.param == "postgres":
        extra = {
            "postgres_dsn": request.getfixturevalue("postgres_dsn"),
            "postgres_schema": request.getfixturevalue("postgres_schema"),
        }
    return TicketsSettings(common=common, port=free_port(), run_relay=False, run_projection=False, **extra)
