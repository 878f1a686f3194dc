"""Benchmark of the persisted active-popups view: start-up, rebuild, list and due-scan costs.

Fills a notifications store (SQLite in a temporary folder, or a fresh PostgreSQL schema with
`--postgres DSN`) with N popups (a quarter deleted, a quarter snoozed, a few of those due), then prints:
- rebuild: the whole log replayed into the view (what every process did at start before the view was
  persisted), in events per second;
- resume: what a restarted process does now (catch up from the recorded position: nothing to read);
- follow: applying the next 100 events;
- the due scan (indexed on `snoozed_until`) and one recipient's list, p50/p99 over 200 calls.

Bounded: N defaults to 5,000 popups; the run takes well under a minute.
    .venv/bin/python -m benchmarks.notifications_view [--popups 5000] [--postgres postgresql://…]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from notifications.application.service import SYSTEM_CAUSE, NewMessage, Recipient
from notifications.application.store import open_store
from notifications.bootstrap import build_service, open_active_view, open_view_db
from notifications.projections.active import create_tables
from notifications.settings import NotificationsSettings
from shared.settings import CommonSettings, Environment

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.current = START

    def now(self) -> datetime:
        return self.current


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call: Callable[[], Any], times: int) -> tuple[float, float]:
    out = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return statistics.median(out), percentile(out, 0.99)


def run(settings: NotificationsSettings, popups: int) -> None:
    if settings.postgres_dsn is None:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    open_store(settings.store_env(create_tables=True)).close()
    db = open_view_db(settings)
    create_tables(db)
    db.close()
    store = open_store(settings.store_env(create_tables=False))
    clock = Clock()
    service = build_service(store, settings, clock)
    accounts = [f"hotel-{i}" for i in range(50)]
    started = time.perf_counter()
    for i in range(popups):
        account, user = accounts[i % len(accounts)], f"u{i % 7}"
        message = NewMessage(uuid.uuid4(), account, user, "t", f"text {i}", None, None)
        popup = service.send_message(message, cause=SYSTEM_CAUSE)
        by = Recipient(account_id=account, user_id=user)
        if i % 4 == 1:
            service.delete(popup.id, by=by)
        elif i % 4 == 2:
            minutes = 5 if i % 40 == 2 else 600  # one snooze in ten comes due in the scan below
            service.snooze(popup.id, by=by, until=START + timedelta(minutes=minutes))
    filled = time.perf_counter() - started
    head = store.head()
    print(f"store: {popups} popups, {head} events (written in {filled:.1f} s)")

    view = open_active_view(store, settings)
    started = time.perf_counter()
    view.rebuild()
    took = time.perf_counter() - started
    print(
        f"rebuild (replay the whole log, as every start did before): {took:.2f} s, {head / took:.0f} events/s"
    )
    view.close()

    view = open_active_view(store, settings)  # a restarted process
    started = time.perf_counter()
    assert view.catch_up() == 0
    took_ms = (time.perf_counter() - started) * 1000
    print(f"resume after a restart (catch up from the recorded position): {took_ms:.1f} ms")

    for i in range(100):
        service.send_message(
            NewMessage(uuid.uuid4(), "hotel-0", "u0", "t", f"more {i}", None, None), cause=SYSTEM_CAUSE
        )
    started = time.perf_counter()
    applied = view.catch_up()
    print(f"follow: {applied} new events applied in {(time.perf_counter() - started) * 1000:.1f} ms")

    rows = len(view.rows())
    at = START + timedelta(minutes=10)
    due = len(view.snoozes_due(at))
    p50, p99 = timed(lambda: view.snoozes_due(at), 200)
    print(f"due scan ({rows} active rows, {due} due): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    shown = len(view.for_recipient(account_id="hotel-0", user_id="u0", now=at))
    p50, p99 = timed(lambda: view.for_recipient(account_id="hotel-0", user_id="u0", now=at), 200)
    print(f"one recipient's list ({shown} popups): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    view.close()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--popups", type=int, default=5000)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL DSN (a fresh schema is used)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        common = CommonSettings(environment=Environment.TEST, data_dir=Path(tmp))
        if args.postgres is None:
            print("backend: SQLite")
            run(NotificationsSettings(common=common), args.popups)
            return
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'create schema "{schema}"')
        try:
            print("backend: PostgreSQL")
            settings = NotificationsSettings(
                common=common, postgres_dsn=args.postgres, postgres_schema=schema
            )
            run(settings, args.popups)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'drop schema if exists "{schema}" cascade')


if __name__ == "__main__":
    main()
