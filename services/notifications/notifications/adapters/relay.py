"""Relay: follows the store's notification log and publishes each popup event to the POPUPS stream.

The store is the outbox (ARCHITECTURE.md, invariant 2). The relay keeps no position of its own: the
stream's last message carries the store position it came from (`Helpdesk-Store-Position`), so a
restarted relay resumes exactly after it. Each event goes out with `Nats-Msg-Id` (its stable public id)
and `Nats-Expected-Last-Msg-Id` (the previous one): a second relay, or a crashed one replaying, is
refused by the stream instead of doubling or reordering an event, and re-reads its position.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from notifications.application.public import PublicEvent, public_event
from notifications.application.store import PopupStore
from notifications.metrics import RELAY_POSITION
from shared.contracts.envelope import (
    HEADER_EXPECTED_LAST_MSG_ID,
    HEADER_MSG_ID,
    envelope_headers,
)
from shared.contracts.subjects import with_prefix
from shared.logging import get_logger

HEADER_STORE_POSITION = "Helpdesk-Store-Position"
log = get_logger(__name__)


class Relay:
    def __init__(
        self,
        store: PopupStore,
        *,
        js: JetStreamContext,
        stream: str,
        prefix: str,
        path_template: str,
        poll_seconds: float,
        batch: int = 100,
    ) -> None:
        self._store = store
        self._js = js
        self._stream = stream
        self._prefix = prefix
        self._path_template = path_template
        self._poll = poll_seconds
        self._batch = batch
        self._wake = asyncio.Event()
        self._position: int | None = None
        self._last_msg_id: str | None = None

    def wake(self) -> None:
        """A local commit happened: publish now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                published = await self.publish_pending()
                failures = 0
            except Exception as exc:  # NATS or the store is away: the loop must outlive it
                failures += 1
                self._position = None
                log.warning("relay_failed", error=repr(exc), attempt=failures)
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                continue
            if published:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def publish_pending(self) -> int:
        """Publish every stored event after the stream's last one; returns how many were published."""
        if self._position is None:
            await self._sync_position()
        assert self._position is not None
        events, last_position = await asyncio.to_thread(self._load, self._position)
        published = 0
        for event in events:
            msg_id = str(event.envelope.event_id)
            headers = envelope_headers(event.envelope)
            headers[HEADER_STORE_POSITION] = str(event.position)
            if self._last_msg_id:
                headers[HEADER_EXPECTED_LAST_MSG_ID] = self._last_msg_id
            try:
                await self._js.publish(
                    with_prefix(self._prefix, event.subject), event.body(), headers=headers
                )
            except APIError as exc:
                if exc.err_code != 10070:  # JSStreamWrongLastMsgIDErrF: someone else published
                    raise
                log.info("relay_resync", position=event.position)
                self._position = None
                return published
            self._position = event.position
            self._last_msg_id = msg_id
            RELAY_POSITION.set(event.position)
            published += 1
        if last_position > self._position:
            # Only unpublished kinds (requester records) were read: the next sync starts from the stream
            # again, so skipping them here just saves re-reading them now.
            self._position = last_position
        return published

    def _load(self, position: int) -> tuple[Sequence[PublicEvent], int]:
        notifications = self._store.notifications_after(position, limit=self._batch)
        events = []
        for notification in notifications:
            event = public_event(self._store, notification, path_template=self._path_template)
            if event is not None:
                events.append(event)
        return events, (notifications[-1].id if notifications else position)

    async def _sync_position(self) -> None:
        try:
            info = await self._js.stream_info(self._stream)
        except NotFoundError:
            raise RuntimeError(f"stream {self._stream} is missing: run the migration") from None
        if not info.state.last_seq:
            self._position, self._last_msg_id = 0, None
            return
        last = await self._js.get_msg(self._stream, seq=info.state.last_seq)
        headers = last.headers or {}
        self._position = int(headers.get(HEADER_STORE_POSITION, "0"))
        self._last_msg_id = headers.get(HEADER_MSG_ID)
        log.info("relay_position", stream=self._stream, position=self._position)
