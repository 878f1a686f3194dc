"""The eventsourcing configuration of a store, from the one setting every service has: a PostgreSQL
DSN, or the path of a SQLite file.

eventsourcing reads its configuration from an environment mapping (`PERSISTENCE_MODULE`,
`SQLITE_DBNAME`, `POSTGRES_HOST`, …); services pass the mapping this builds to their `Application`,
so nothing depends on the process environment. eventsourcing 9.5 connects to PostgreSQL with
dbname, host, port, user and password only (and `POSTGRES_CONNECT_TIMEOUT`): a DSN asking for
anything else (`sslmode`, `application_name`, …) is refused here rather than silently connected
without it; libpq still reads `PGSSLMODE` and the other `PG*` variables from the process environment.
"""

from __future__ import annotations

from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

__all__ = ["IN_MEMORY", "is_postgres_dsn", "persistence_env"]

# The SQLite database that lives in the process's memory only (tests, demos).
IN_MEMORY = ":memory:"
# DSN parameters eventsourcing's PostgreSQL datastore takes (the rest it cannot pass to libpq).
_POSTGRES_KEYS = {
    "dbname": ("POSTGRES_DBNAME", "postgres"),
    "host": ("POSTGRES_HOST", "127.0.0.1"),
    "port": ("POSTGRES_PORT", "5432"),
    "user": ("POSTGRES_USER", "postgres"),
    "password": ("POSTGRES_PASSWORD", ""),
    "connect_timeout": ("POSTGRES_CONNECT_TIMEOUT", "10"),
}


def is_postgres_dsn(store: str | Path) -> bool:
    """Whether `store` names a PostgreSQL database (a URI or `key=value` DSN), not a SQLite file."""
    if isinstance(store, Path):
        return False
    return store.startswith(("postgresql://", "postgres://")) or "=" in store.split("/", 1)[0]


def persistence_env(
    store: str | Path | None,
    *,
    schema: str = "",
    create_table: bool = False,
    pool_size: int | None = None,
) -> dict[str, str]:
    """eventsourcing's configuration of the store `store` names: a PostgreSQL DSN (in `schema`, the
    server's `public` when empty), a SQLite file (`IN_MEMORY` for one in memory), or None for
    eventsourcing's plain-Python store (in memory, no SQL). Tables are created only when
    `create_table` (the migration step: replicas creating them together can fail, ARCHITECTURE.md)."""
    env = {"CREATE_TABLE": "y" if create_table else "n"}
    if store is None:
        return env | {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if not is_postgres_dsn(store):
        return env | {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(store),
            # Seconds a writer waits for another process's write lock on the same file.
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    params = {key: str(value) for key, value in conninfo_to_dict(str(store)).items() if value is not None}
    unsupported = sorted(set(params) - set(_POSTGRES_KEYS))
    if unsupported:
        raise ValueError(
            f"the event store cannot pass {', '.join(unsupported)} to PostgreSQL: "
            "set them as PG* environment variables instead"
        )
    env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
    for key, (name, default) in _POSTGRES_KEYS.items():
        env[name] = params.get(key) or default
    # With it on, a tailing reader missed events under concurrent writers (ARCHITECTURE.md).
    env["POSTGRES_ENABLE_DB_FUNCTIONS"] = "n"
    if schema:
        env["POSTGRES_SCHEMA"] = schema
    if pool_size is not None:
        env["POSTGRES_POOL_SIZE"] = str(pool_size)
        env["POSTGRES_MAX_OVERFLOW"] = "2"
    return env
