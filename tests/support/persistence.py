"""One behaviour suite on every persistence module, as eventsourcing runs its own: in memory, SQLite
in a file of the test's own, PostgreSQL in a fresh schema (`postgres_dsn` skips it without PostgreSQL,
or fails it under HELPDESK_TEST_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.eventstore import persistence_env as store_env

PersistenceEnv = Callable[[], dict[str, str]]

PERSISTENCE = ["popo", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=PERSISTENCE)
def persistence_env(request: pytest.FixtureRequest, tmp_path: Path) -> PersistenceEnv:
    """`persistence_env()` → the eventsourcing env of a new, empty store on this test's backend.

    Each call is a store of its own on popo and SQLite (one file per application, as eventsourcing
    wants); on PostgreSQL the calls of one test share its schema.
    """
    kind = str(request.param)
    if kind == "popo":
        return lambda: store_env(None, create_table=True)
    if kind == "sqlite":
        files = (tmp_path / f"store-{n}.sqlite" for n in itertools.count())
        return lambda: store_env(next(files), create_table=True)
    dsn, schema = request.getfixturevalue("postgres_dsn"), request.getfixturevalue("postgres_schema")
    return lambda: store_env(dsn, schema=schema, create_table=True)
