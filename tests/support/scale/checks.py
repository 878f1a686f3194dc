"""What the scaled-out test reads back after the node loss: the history list, the TICKETS stream and
the tickets store's public events, the popups."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any
from uuid import UUID

import httpx
import nats
from pydantic import SecretStr

from notifications.domain.ids import popup_id_for_ticket_event
from shared.contracts.envelope import HEADER_MSG_ID
from shared.contracts.subjects import TICKETS_STREAM
from shared.nats import stream_config
from tests.support.scale.system import Scaled
from tests.support.scale.traffic import bearer
from tickets.adapters.store import open_application
from tickets.entrypoints.workers import public_form
from tickets.settings import TicketsSettings


async def history_ids(http: httpx.AsyncClient, url: str, *, agent: str, account: str) -> list[str]:
    """Every ticket id of `account` in the history list, all pages, as support sees it."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"account_id": account, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = await http.get(f"{url}/api/v1/tickets", params=params, headers=bearer(agent))
        assert page.status_code == 200, page.text
        body = page.json()
        ids += [item["ticket_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids
    raise AssertionError("more than 100 pages of history")


def store_public_events(system: Scaled) -> list[tuple[str, str, dict[str, Any]]]:
    """(event id, type, data) of every public event in the tickets store, in notification order."""
    settings = TicketsSettings(
        common=system.common(),
        postgres_dsn=SecretStr(system.postgres_dsn),
        postgres_schema=system.tickets_schema,
    )
    app = open_application(settings)
    try:
        convert = public_form(app)
        events: list[tuple[str, str, dict[str, Any]]] = []
        start = 1
        while True:
            batch = app.recorder.select_notifications(start, 500)
            for notification in batch:
                envelope = convert(notification)
                if envelope is not None:
                    data = envelope.model_dump(mode="json")["data"]
                    events.append((str(envelope.event_id), envelope.type, data))
            if len(batch) < 500:
                return events
            start = batch[-1].id + 1
    finally:
        app.close()


async def stream_msg_ids(system: Scaled) -> list[str]:
    """The `Nats-Msg-Id` of every message in the TICKETS stream, in stream order (read from the
    two surviving nodes)."""
    name = stream_config(TICKETS_STREAM, prefix=system.prefix).name
    assert name is not None
    nc = await nats.connect(servers=[n.url for n in system.survivors], connect_timeout=5)
    try:
        js = nc.jetstream()
        info = await js.stream_info(name)
        ids = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(name, seq)
            ids.append((msg.headers or {}).get(HEADER_MSG_ID, ""))
        return ids
    finally:
        await nc.close()


def expected_popups(events: list[tuple[str, str, dict[str, Any]]]) -> set[str]:
    """The popup each agent reply raises (its id is derived from the reply's event id)."""
    return {
        str(popup_id_for_ticket_event(UUID(event_id)))
        for event_id, kind, data in events
        if kind == "ticket.replied" and data.get("author_role") == "agent"
    }


async def popups_of(http: httpx.AsyncClient, url: str, token: str) -> list[dict[str, Any]]:
    listed = await http.get(f"{url}/api/v1/popups", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def duplicates(values: list[str]) -> list[str]:
    return [value for value, count in Counter(values).items() if count > 1]


async def store_events(system: Scaled) -> list[tuple[str, str, dict[str, Any]]]:
    return await asyncio.to_thread(store_public_events, system)
