"""The event store's configuration: PostgreSQL (production) or one SQLite file (embedded).

eventsourcing reads its configuration from an environment mapping; this builds that mapping from the
typed settings, so nothing depends on the process environment. Tables are created only by `migrate`
(`create_tables`): replicas starting together and each creating tables can fail on PostgreSQL
("tuple concurrently updated"), see ARCHITECTURE.md.
"""

from __future__ import annotations

from shared.eventstore import persistence_env as store_env
from tickets.application.app import TicketsApplication
from tickets.application.directory import DirectoryApplication
from tickets.settings import TicketsSettings

DIRECTORY_FILE = "directory.sqlite"


def persistence_env(
    settings: TicketsSettings, *, create_table: bool = False, sqlite_file: str = "tickets.sqlite"
) -> dict[str, str]:
    """eventsourcing's configuration; `sqlite_file` is the application's own file (one per application:
    two in one file would share one notification log)."""
    if settings.postgres_dsn is not None:
        return store_env(
            settings.postgres_dsn.get_secret_value(),
            schema=settings.postgres_schema,
            create_table=create_table,
            pool_size=settings.postgres_pool_size,
        )
    data_dir = settings.common.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    return store_env(data_dir / sqlite_file, create_table=create_table)


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
