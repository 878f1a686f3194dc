"""A restore of an event store to an earlier point, as the database brings it back: the events after
the point gone from the store's table, its numbering back at the point (PostgreSQL: the sequence;
SQLite: the rowid follows the rows)."""

# ruff: noqa: S608 -- the table name comes from the recorder; values are parameters

from __future__ import annotations

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder


def restore_to(recorder: ApplicationRecorder, point: int) -> None:
    """`recorder`'s store as a restore to the point just after notification `point` leaves it."""
    if isinstance(recorder, PostgresApplicationRecorder):
        qualified = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        with recorder.datastore.transaction(commit=True) as curs:
            curs.execute(f"DELETE FROM {qualified} WHERE notification_id > %s", (point,))
            curs.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)", (qualified, point)
            )
    elif isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as curs:
            curs.execute(f"DELETE FROM {recorder.events_table_name} WHERE rowid > ?", (point,))
    else:
        raise TypeError(f"no restore of {type(recorder).__name__}")
