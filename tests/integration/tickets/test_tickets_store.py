"""The event store on SQLite and PostgreSQL: two writers on one store, batching, idempotency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.settings import CommonSettings, Environment
from tickets.adapters.store import create_tables, open_application, persistence_env
from tickets.application.app import TicketsApplication
from tickets.application.batching import Executor
from tickets.application.commands import Caller, CommandResult, CreateTicket, Reply
from tickets.application.handlers import Handlers
from tickets.application.numbers import NumberAllocator
from tickets.application.public_events import to_public
from tickets.domain.values import Actor, ActorKind, Importance
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.integration

USER = Caller(actor=Actor(kind=ActorKind.USER, id="u1", name="Olena"), account_id="hotel-a")
TOPICS = ("Reports",)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> TicketsSettings:
    common = CommonSettings(environment=Environment.TEST, data_dir=tmp_path / "data")
    extra: dict[str, Any] = {}
    if request.param == "postgres":
        extra = {
            "postgres_dsn": request.getfixturevalue("postgres_dsn"),
            "postgres_schema": request.getfixturevalue("postgres_schema"),
        }
    settings = TicketsSettings(common=common, **extra)
    create_tables(settings)
    return settings


@pytest.fixture
def two_apps(store_settings: TicketsSettings) -> Iterator[tuple[TicketsApplication, TicketsApplication]]:
    one, two = open_application(store_settings), open_application(store_settings)
    try:
        yield one, two
    finally:
        one.close()
        two.close()


def executor(app: TicketsApplication, owner: str) -> Executor:
    return Executor(app=app, handlers=Handlers(topics=TOPICS), numbers=NumberAllocator(app, owner=owner))


def create(key: str | None = None) -> CreateTicket:
    return CreateTicket(
        caller=USER,
        account_id="hotel-a",
        topic="Reports",
        importance=Importance.LOW,
        comment="c",
        message="m",
        idempotency_key=key,
    )


def stored_numbers(app: TicketsApplication) -> list[str]:
    numbers = []
    for notification in app.recorder.select_notifications(start=1, limit=100_000):
        envelope = to_public(app.mapper.to_domain_event(notification))
        if envelope is not None and envelope.type == "ticket.created":
            numbers.append(envelope.data.number)
    return numbers


def test_the_sqlite_store_lives_in_the_data_dir_and_postgres_in_its_schema(
    store_settings: TicketsSettings,
) -> None:
    env = persistence_env(store_settings)
    assert env["CREATE_TABLE"] == "n"
    if store_settings.postgres_dsn is None:
        assert env["SQLITE_DBNAME"] == str(store_settings.common.data_dir / "tickets.sqlite")
    else:
        assert env["POSTGRES_SCHEMA"] == store_settings.postgres_schema
        assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"


def test_two_writers_on_one_store_allocate_numbers_at_once_without_duplicates(
    two_apps: tuple[TicketsApplication, TicketsApplication],
) -> None:
    outcomes: list[object] = []
    lock = threading.Lock()

    def write(app: TicketsApplication, owner: str) -> None:
        ex = executor(app, owner)
        for _ in range(8):
            batch = ex.execute([create() for _ in range(15)])
            with lock:
                outcomes.extend(batch)

    threads = [threading.Thread(target=write, args=(app, f"writer-{i}")) for i, app in enumerate(two_apps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(t.is_alive() for t in threads)
    results = [o for o in outcomes if isinstance(o, CommandResult)]
    assert len(results) == 240, [o for o in outcomes if not isinstance(o, CommandResult)][:3]
    numbers = stored_numbers(two_apps[0])
    assert len(numbers) == 240
    assert len(set(numbers)) == 240
    assert {r.number for r in results} == set(numbers)


def test_an_idempotency_key_used_by_two_writers_at_once_makes_one_ticket(
    two_apps: tuple[TicketsApplication, TicketsApplication],
) -> None:
    outcomes: list[object] = []
    barrier = threading.Barrier(4)

    def write(app: TicketsApplication, owner: str) -> None:
        ex = executor(app, owner)
        barrier.wait(timeout=10)
        outcomes.append(ex.execute_one(create("same-key")))

    threads = [threading.Thread(target=write, args=(two_apps[i % 2], f"w{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    results = [o for o in outcomes if isinstance(o, CommandResult)]
    assert len(results) == 4, outcomes
    assert len({r.ticket_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len(stored_numbers(two_apps[0])) == 1


def test_a_change_that_loses_a_race_with_another_writer_is_retried_on_fresh_state(
    two_apps: tuple[TicketsApplication, TicketsApplication],
) -> None:
    one, two = executor(two_apps[0], "one"), executor(two_apps[1], "two")
    ticket = one.execute_one(create())
    assert isinstance(ticket, CommandResult)
    outcomes: list[object] = []

    def reply(ex: Executor) -> None:
        for i in range(10):
            outcomes.append(ex.execute_one(Reply(caller=USER, ticket_id=ticket.ticket_id, text=f"r{i}")))

    threads = [threading.Thread(target=reply, args=(ex,)) for ex in (one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(o, CommandResult) for o in outcomes), [
        o for o in outcomes if not isinstance(o, CommandResult)
    ]
    assert two_apps[0].get_ticket(ticket.ticket_id).version == 21


def test_a_batch_is_one_transaction_and_reports_its_position(
    two_apps: tuple[TicketsApplication, TicketsApplication],
) -> None:
    app = two_apps[0]
    seen: list[int] = []
    app.add_save_listener(seen.append)
    results = executor(app, "one").execute([create() for _ in range(25)])
    positions = {r.position for r in results if isinstance(r, CommandResult)}
    assert len(positions) == 1
    (position,) = positions
    assert position == app.recorder.max_notification_id()
    assert seen[-1] == position
