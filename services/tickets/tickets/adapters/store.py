"""The event store's configuration: PostgreSQL (production) or one SQLite file (embedded).

eventsourcing reads its configuration from an environment mapping; this builds that mapping from the
typed settings, so nothing depends on the process environment. Tables are created only by `migrate`
(`create_tables`): replicas starting together and each creating tables can fail on PostgreSQL
("tuple concurrently updated"), see ARCHITECTURE.md.
"""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict

from tickets.application.app import TicketsApplication
from tickets.application.directory import DirectoryApplication
from tickets.settings import TicketsSettings

DIRECTORY_FILE = "directory.sqlite"


def persistence_env(
    settings: TicketsSettings, *, create_table: bool = False, sqlite_file: str = "tickets.sqlite"
) -> dict[str, str]:
    """eventsourcing's configuration; `sqlite_file` is the application's own file (one per application:
    two in one file would share one notification log)."""
    env = {"CREATE_TABLE": "y" if create_table else "n"}
    if settings.postgres_dsn is not None:
        params = conninfo_to_dict(settings.postgres_dsn.get_secret_value())
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=str(params.get("dbname") or "postgres"),
            POSTGRES_HOST=str(params.get("host") or "127.0.0.1"),
            POSTGRES_PORT=str(params.get("port") or "5432"),
            POSTGRES_USER=str(params.get("user") or "postgres"),
            POSTGRES_PASSWORD=str(params.get("password") or ""),
            POSTGRES_SCHEMA=settings.postgres_schema,
            POSTGRES_POOL_SIZE=str(settings.postgres_pool_size),
            POSTGRES_MAX_OVERFLOW="2",
            POSTGRES_CONNECT_TIMEOUT="10",
            # With it on, a tailing reader missed events under concurrent writers (ARCHITECTURE.md).
            POSTGRES_ENABLE_DB_FUNCTIONS="n",
        )
    else:
        data_dir = settings.common.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(data_dir / sqlite_file),
            # Seconds a writer waits for another process's write lock on the same file.
            SQLITE_LOCK_TIMEOUT="10",
        )
    return env


def open_application(settings: TicketsSettings) -> TicketsApplication:
    """The application over the configured store (tables must exist: see `create_tables`)."""
    return TicketsApplication(env=persistence_env(settings))


def create_tables(settings: TicketsSettings) -> None:
    """Create the store's tables if they are missing (idempotent; run once, by the migration step)."""
    app = TicketsApplication(env=persistence_env(settings, create_table=True))
    app.close()
    directory = DirectoryApplication(
        env=persistence_env(settings, create_table=True, sqlite_file=DIRECTORY_FILE)
    )
    directory.close()


def open_directory(settings: TicketsSettings) -> DirectoryApplication:
    """The support directory's own store (tables `directory_*` next to the tickets' in PostgreSQL)."""
    return DirectoryApplication(env=persistence_env(settings, sqlite_file=DIRECTORY_FILE))
