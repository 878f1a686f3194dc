"""The one SQL layer of the read models, the same statements on SQLite and on PostgreSQL."""

# ruff: noqa: S608 -- the one table name comes from the test; values are parameters
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shared.sql import Database, half_open

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database.sqlite(tmp_path / "views" / "views.sqlite")
    else:
        # A schema the migration creates (the fixture's own is dropped afterwards, with it).
        schema = f"{request.getfixturevalue('postgres_schema')}_views"
        database = Database.postgres(request.getfixturevalue("postgres_dsn"), schema=schema, pool_size=2)
    with database.migration(lock="tests.sql") as tx:
        tx.execute(f"CREATE TABLE IF NOT EXISTS {database.table('items')} (id text PRIMARY KEY, n bigint)")
    yield database
    if database.dialect == "postgres":
        with database.connection() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE')
    database.close()


class Abandoned(Exception):
    pass


def test_named_parameters_read_and_write_alike_on_either_database(db: Database) -> None:
    items = db.table("items")
    with db.transaction() as tx:
        tx.executemany(
            f"INSERT INTO {items} (id, n) VALUES (:id, :n)", [{"id": "a", "n": 1}, {"id": "b", "n": 2}]
        )
        changed = tx.execute(f"UPDATE {items} SET n = n + :by WHERE n >= :from", {"by": 10, "from": 2})
        assert changed == 1
        assert tx.fetch(f"SELECT n FROM {items} WHERE id = :id{db.for_update}", {"id": "b"}) == [(12,)]
    assert db.query(f"SELECT id, n FROM {items} ORDER BY id") == [("a", 1), ("b", 12)]
    assert db.query_dicts(f"SELECT id FROM {items} WHERE n = :n", {"n": 1}) == [{"id": "a"}]


def test_a_transaction_that_raises_leaves_nothing_behind(db: Database) -> None:
    items = db.table("items")

    def insert_then_fail() -> None:
        with db.transaction(pipeline=True) as tx:
            tx.execute(f"INSERT INTO {items} (id, n) VALUES (:id, :n)", {"id": "x", "n": 1})
            raise Abandoned

    with pytest.raises(Abandoned):
        insert_then_fail()
    assert db.query(f"SELECT id FROM {items}") == []


def test_a_migration_runs_again_without_effect_and_sees_the_columns(db: Database) -> None:
    with db.migration(lock="tests.sql") as tx:
        tx.execute(f"CREATE TABLE IF NOT EXISTS {db.table('items')} (id text PRIMARY KEY, n bigint)")
        assert tx.columns(db.table("items")) == {"id", "n"}


def test_a_half_open_range_binds_only_the_ends_given(db: Database) -> None:
    items = db.table("items")
    with db.transaction() as tx:
        tx.executemany(
            f"INSERT INTO {items} (id, n) VALUES (:id, :n)", [{"id": str(n), "n": n} for n in range(5)]
        )
    for start, end, expected in (
        (1, 3, [1, 2]),
        (None, 2, [0, 1]),
        (3, None, [3, 4]),
        (None, None, list(range(5))),
    ):
        where: list[str] = []
        params: dict[str, object] = {}
        half_open("n", start, end, name="n", where=where, params=params)
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        rows = db.query(f"SELECT n FROM {items}{condition} ORDER BY n", params)
        assert [row[0] for row in rows] == expected


@pytest.mark.postgres
def test_the_postgres_schema_is_created_and_is_the_connections_search_path(postgres_dsn: str) -> None:
    schema = "t_sql_search_path"
    db = Database.postgres(postgres_dsn, schema=schema, pool_size=1)
    try:
        with db.migration(lock="tests.sql") as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS unqualified (id text)")
        assert db.table("unqualified") == f'"{schema}".unqualified'
        assert db.query("SELECT count(*) FROM unqualified") == [(0,)]
    finally:
        db.close()
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
