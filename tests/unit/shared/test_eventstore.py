"""The one mapping from a store setting (DSN or SQLite path) to eventsourcing's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.eventstore import IN_MEMORY, is_postgres_dsn, persistence_env


def test_a_postgres_uri_gives_every_connection_parameter() -> None:
    env = persistence_env("postgresql://alice:s%40cret@db.internal:6543/helpdesk", schema="tickets")
    assert env == {
        "CREATE_TABLE": "n",
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "helpdesk",
        "POSTGRES_HOST": "db.internal",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "alice",
        "POSTGRES_PASSWORD": "s@cret",  # percent-decoded
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "POSTGRES_SCHEMA": "tickets",
    }


def test_a_key_value_dsn_reads_the_same_as_a_uri() -> None:
    uri = persistence_env("postgresql://bob:pw@10.0.0.5:5433/app?connect_timeout=3")
    key_value = persistence_env("host=10.0.0.5 port=5433 user=bob password=pw dbname=app connect_timeout=3")
    assert uri == key_value
    assert uri["POSTGRES_CONNECT_TIMEOUT"] == "3"


def test_what_the_dsn_leaves_out_takes_the_local_defaults() -> None:
    env = persistence_env("postgresql://")
    assert env["POSTGRES_HOST"] == "127.0.0.1"
    assert env["POSTGRES_PORT"] == "5432"
    assert env["POSTGRES_USER"] == "postgres"
    assert env["POSTGRES_PASSWORD"] == ""
    assert env["POSTGRES_DBNAME"] == "postgres"


def test_an_empty_schema_leaves_the_servers_default() -> None:
    assert "POSTGRES_SCHEMA" not in persistence_env("postgresql://postgres@127.0.0.1:5432/test")


def test_a_pool_size_is_passed_with_its_overflow() -> None:
    env = persistence_env("postgresql://postgres@127.0.0.1/test", pool_size=7)
    assert (env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"]) == ("7", "2")
    assert "POSTGRES_POOL_SIZE" not in persistence_env("postgresql://postgres@127.0.0.1/test")


@pytest.mark.parametrize("dsn", ["postgresql://h/db?sslmode=require", "host=h sslmode=verify-full"])
def test_a_parameter_the_store_cannot_pass_on_is_refused_not_dropped(dsn: str) -> None:
    with pytest.raises(ValueError, match="sslmode"):
        persistence_env(dsn)


def test_tables_are_created_only_when_asked() -> None:
    assert persistence_env("postgresql://h/db", create_table=True)["CREATE_TABLE"] == "y"
    assert persistence_env(Path("/tmp/x.sqlite"))["CREATE_TABLE"] == "n"


def test_a_path_is_a_sqlite_file(tmp_path: Path) -> None:
    for store in (tmp_path / "tickets.sqlite", str(tmp_path / "tickets.sqlite")):
        assert persistence_env(store, schema="ignored") == {
            "CREATE_TABLE": "n",
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "tickets.sqlite"),
            "SQLITE_LOCK_TIMEOUT": "10",
        }


def test_sqlite_in_memory_and_the_plain_python_store() -> None:
    assert persistence_env(IN_MEMORY)["SQLITE_DBNAME"] == ":memory:"
    assert persistence_env(None) == {"CREATE_TABLE": "n", "PERSISTENCE_MODULE": "eventsourcing.popo"}


def test_which_settings_name_postgres() -> None:
    assert is_postgres_dsn("postgresql://h/db")
    assert is_postgres_dsn("postgres://h/db")
    assert is_postgres_dsn("host=h dbname=db")
    assert not is_postgres_dsn("/var/lib/helpdesk/a=b/tickets.sqlite")
    assert not is_postgres_dsn(Path("host=h"))
    assert not is_postgres_dsn(IN_MEMORY)
