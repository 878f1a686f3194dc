"""The tickets service started on a store restored to an earlier point (deploy/README.md, "Restoring
PostgreSQL"): every event it stores afterwards reaches TICKETS once, numbered after the stream's
position; on SQLite, which cannot be renumbered, it refuses to start."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from shared.contracts.envelope import HEADER_MSG_ID, EventEnvelope
from shared.contracts.subjects import DIRECTORY_STREAM
from shared.settings import CommonSettings
from shared.storenumbering import StoreBehindStream, numbered
from tests.support.restore import restore_to
from tests.support.tickets_api import Api, in_process
from tests.support.wait import eventually
from tickets.adapters.relay import HEADER_NOTIFICATION_ID, read_position, tickets_stream_name
from tickets.adapters.store import open_application, open_directory
from tickets.application.directory import DirectoryApplication, DirectoryService, default_document
from tickets.application.directory_events import to_public as directory_public
from tickets.domain.values import SYSTEM
from tickets.entrypoints.workers import public_form
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(
    common_settings: CommonSettings, nats_prefix: str, tickets_backend: dict[str, Any]
) -> TicketsSettings:
    """The API with its relays (the history projection is rebuilt after a restore, not tested here)."""
    common = common_settings.model_copy(update={"nats_prefix": nats_prefix})
    return TicketsSettings(common=common, run_relay=True, run_projection=False, **tickets_backend)


Convert = Callable[[Notification], "EventEnvelope[Any] | None"]


def public_events(app: Application[UUID], convert: Convert) -> list[tuple[int, str]]:
    """Each stored event with a public form: its notification id and event id, in store order."""
    found = []
    for notification in app.recorder.select_notifications(None, 10_000):
        envelope = convert(notification)
        if envelope is not None:
            found.append((notification.id, str(envelope.event_id)))
    return found


def directory_form(app: DirectoryApplication) -> Convert:
    return lambda notification: directory_public(app.mapper.to_domain_event(notification))


async def published(js: JetStreamContext, stream: str) -> list[tuple[int, str]]:
    info = await js.stream_info(stream)
    messages = [await js.get_msg(stream, seq=s) for s in range(1, info.state.last_seq + 1)]
    return [
        (int((m.headers or {})[HEADER_NOTIFICATION_ID]), (m.headers or {})[HEADER_MSG_ID]) for m in messages
    ]


async def create_and_publish(
    settings: TicketsSettings, make_token: Callable[..., str], js: JetStreamContext, *, tickets: int
) -> list[tuple[int, str]]:
    """Run the service, create `tickets` tickets and wait until every public event of both stores is
    in its stream; return the tickets' public events."""
    prefix = settings.common.nats_prefix
    store, directory = open_application(settings), open_directory(settings)
    stores = (
        (store, public_form(store), tickets_stream_name(prefix)),
        (
            directory,
            lambda n: directory_public(directory.mapper.to_domain_event(n)),
            DIRECTORY_STREAM.stream_name(prefix),
        ),
    )
    try:
        async with in_process(settings) as (_, client):
            api = Api(client=client, settings=settings, make_token=make_token)
            for n in range(tickets):
                await api.create_ok(comment=f"Report {n} broken")

            async def all_published() -> bool:
                for app, convert, stream in stores:
                    if not set(public_events(app, convert)) <= set(await published(js, stream)):
                        return False
                return True

            await eventually(all_published, timeout=20.0)
        return public_events(store, public_form(store))
    finally:
        store.close()
        directory.close()


def change_directory(settings: TicketsSettings) -> None:
    """An admin's edit of the support directory: one more event in its store."""
    directory = DirectoryService(open_directory(settings))
    try:
        document = default_document()
        document["contacts"]["phones"][0]["number"] = "+38 (044) 390-0015"
        directory.replace(document=document, actor=SYSTEM, expected_version=None)
    finally:
        directory.app.close()


@pytest.mark.postgres
@pytest.mark.parametrize("tickets_backend", ["postgres"], indirect=True)
async def test_tickets_created_after_a_postgres_restore_reach_the_stream_once_numbered_after_it(
    settings: TicketsSettings, make_token: Callable[..., str], nc: NATS
) -> None:
    js = nc.jetstream()
    prefix = settings.common.nats_prefix
    first = await create_and_publish(settings, make_token, js, tickets=1)
    change_directory(settings)
    before = await create_and_publish(settings, make_token, js, tickets=2)
    stream_position = (await read_position(js, tickets_stream_name(prefix))).notification_id
    directory_position = (await read_position(js, DIRECTORY_STREAM.stream_name(prefix))).notification_id
    assert directory_position > 1
    # Both stores come back to the point after the first ticket (and the directory's first event).
    for opened, point in ((open_application(settings), first[-1][0]), (open_directory(settings), 1)):
        try:
            restore_to(opened.recorder, point)
        finally:
            opened.close()

    after = await create_and_publish(settings, make_token, js, tickets=2)

    new = after[len(first) :]
    assert len(new) >= 2
    assert min(n for n, _ in new) > stream_position
    # Each new event once, after everything published before the restore.
    assert await published(js, tickets_stream_name(prefix)) == before + new
    directory = open_directory(settings)
    try:  # the directory's store numbers its next event after its own stream too
        assert numbered(directory.recorder) >= directory_position
    finally:
        directory.close()


@pytest.mark.parametrize("tickets_backend", ["sqlite"], indirect=True)
async def test_the_service_refuses_to_start_on_a_restored_sqlite_store_behind_its_stream(
    settings: TicketsSettings, make_token: Callable[..., str], nc: NATS
) -> None:
    js = nc.jetstream()
    first = await create_and_publish(settings, make_token, js, tickets=1)
    published_before = await create_and_publish(settings, make_token, js, tickets=1)
    store = open_application(settings)
    try:
        restore_to(store.recorder, first[-1][0])
    finally:
        store.close()

    with pytest.raises(StoreBehindStream) as refused:
        async with in_process(settings):
            pass
    assert refused.value.stream_position == published_before[-1][0]
    assert "tickets.sqlite" in str(refused.value)
