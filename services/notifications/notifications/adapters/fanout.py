"""Fan-out of popup events to the open SSE connections of this process, through core NATS.

Every notifications process subscribes (core NATS, no queue group) to the popup subjects the relay
publishes, so a change made through any process reaches every tab of the user on every process. Each
connection has a bounded queue: a tab that cannot keep up is closed, and its browser reconnects with
`Last-Event-ID` and is replayed from the store, so a slow tab never slows the others.

A stream whose sender is idle (nothing queued, nothing being sent) and whose server can write a body
chunk at once (`Connection.write`: `shared.httpserver.WRITE_BODY`) gets its change written from here,
in order, with no task step: an account-wide popup to 10,000 tabs is 10,000 socket writes, not 10,000
task wake-ups. When the write cannot go at once (the tab's write buffer is full), the change is
queued as before and the stream's own sender waits for the tab, or closes it when the queue fills.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from sse_starlette import ServerSentEvent

from notifications.adapters.relay import HEADER_STORE_POSITION
from notifications.metrics import SSE_STREAMS
from shared.contracts.envelope import EventEnvelope, UnknownEventType
from shared.contracts.popups_v2 import DOMAIN, SCHEMA_VERSION, PopupEventDataV2, parse_popup_event
from shared.contracts.subjects import ROOT, with_prefix
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Change:
    """One popup change for the browser: its store position (the SSE id) and the event."""

    position: int
    envelope: EventEnvelope[PopupEventDataV2]

    @cached_property
    def frame(self) -> bytes:
        """The SSE event as sent, encoded once however many streams it goes to (an account-wide
        popup reaches every tab of the account: serialising it per stream cost most of its fan-out)."""
        return ServerSentEvent(
            data=self.envelope.model_dump_json(),
            event=self.envelope.type,
            id=str(self.position),
        ).encode()


HEARTBEAT_SLICE = 500  # streams sent the heartbeat between two turns of the event loop
Item = Change | bytes | None  # a change, a raw frame (the heartbeat), or the end of the stream


class Inbox:
    """A stream's bounded queue with one reader: `asyncio.Queue`'s methods as the hub and the stream
    use them, at a fraction of its size (a `Queue` holds three deques and an `Event`, ~2.3 KiB; at
    10,000 open streams that is 23 MiB of mostly empty deques)."""

    __slots__ = ("_items", "_maxsize", "_waiter")

    def __init__(self, maxsize: int) -> None:
        self._items: list[Item] = []
        self._maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        return not self._items

    def parked(self) -> bool:
        """Its reader is waiting for the next item and nothing is queued: it is sending nothing."""
        return not self._items and self._waiter is not None and not self._waiter.done()

    def put_nowait(self, item: Item) -> None:
        if 0 < self._maxsize <= len(self._items):
            raise asyncio.QueueFull
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def get_nowait(self) -> Item:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> Item:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


@dataclass(eq=False, slots=True)
class Connection:
    """One open stream: its recipient, what it is sent next, the last change it was sent, and once its
    first events are out, a way to write to it at once (`write(frame)`: `False` when it would wait)."""

    account_id: str
    user_id: str
    queue: Inbox
    sent: int = 0
    write: Callable[[bytes], bool] | None = None


class Hub:
    def __init__(self, *, prefix: str, queue_size: int) -> None:
        self._subject = with_prefix(prefix, f"{ROOT}.{DOMAIN}.v{SCHEMA_VERSION}.>")
        self._queue_size = queue_size
        # account → user → that user's open streams in this process
        self._connections: defaultdict[str, defaultdict[str, set[Connection]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._subscription: Subscription | None = None
        self._nc: NATS | None = None
        self._reconnects = 0

    async def start(self, nc: NATS) -> None:
        self._nc = nc
        self._reconnects = nc.stats["reconnects"]
        self._subscription = await nc.subscribe(self._subject, cb=self._on_message)

    def _reconnected_since_last_message(self) -> bool:
        if self._nc is None or self._nc.stats["reconnects"] == self._reconnects:
            return False
        self._reconnects = self._nc.stats["reconnects"]
        return True

    async def stop(self) -> None:
        """Unsubscribe and end every open stream (their browsers reconnect elsewhere)."""
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
        self.close_all()

    def connect(self, *, account_id: str, user_id: str) -> Connection:
        connection = Connection(account_id, user_id, Inbox(self._queue_size))
        self._connections[account_id][user_id].add(connection)
        SSE_STREAMS.inc()
        return connection

    def disconnect(self, connection: Connection) -> None:
        users = self._connections.get(connection.account_id)
        mine = users.get(connection.user_id) if users is not None else None
        if users is None or mine is None or connection not in mine:
            return
        mine.discard(connection)
        SSE_STREAMS.dec()
        if not mine:
            del users[connection.user_id]
        if not users:
            del self._connections[connection.account_id]

    async def _on_message(self, msg: Msg) -> None:
        if self._reconnected_since_last_message():
            # Core NATS has no catch-up: what was published while this process reconnected never
            # reached it. End every open stream; each browser resumes with Last-Event-ID and the
            # store replays what it missed.
            log.warning("fanout_reconnected_closing_streams")
            self.close_all()
        try:
            envelope = parse_popup_event(msg.data)
            position = int((msg.headers or {}).get(HEADER_STORE_POSITION, ""))
        except (ValidationError, UnknownEventType, ValueError) as exc:
            log.warning("fanout_unreadable_event", subject=msg.subject, error=str(exc)[:200])
            return
        self.publish_locally(Change(position, envelope))

    def publish_locally(self, change: Change) -> None:
        """Queue `change` for every stream of its recipient: one user (a popup to them, or their own
        change of a popup to their whole account), or every user of the account."""
        users = self._connections.get(change.envelope.account_id)
        if not users:
            return
        user_id = change.envelope.data.addressed_to
        if user_id is None:
            targets = [c for cs in users.values() for c in cs]
        else:
            targets = list(users.get(user_id, ()))
        for connection in targets:
            self._deliver(connection, change)

    def _deliver(self, connection: Connection, item: Change | bytes) -> None:
        """Write `item` to the stream now if its sender is idle and the write needs no wait, else
        queue it for the sender (which waits for the tab); a full queue closes the stream."""
        if connection.write is not None and connection.queue.parked():
            if isinstance(item, bytes):
                if connection.write(item):
                    return
            elif item.position <= connection.sent:
                return  # already sent (in the replay, or older than what the list showed)
            elif connection.write(item.frame):
                connection.sent = item.position
                return
        try:
            connection.queue.put_nowait(item)
        except asyncio.QueueFull:
            self._close(connection)

    def close(self, connection: Connection) -> None:
        """End `connection`'s stream: it leaves the hub now and its sender stops at the marker."""
        self._close(connection)

    def close_all(self) -> None:
        for connection in self.streams():
            self._close(connection)

    async def heartbeat(self, frame: bytes) -> None:
        """Send `frame` to every idle stream: one timer for all the process's streams keeps them
        open, rather than a timer per stream (a stream with something queued needs no heartbeat).
        In slices, yielding between them: 10,000 writes at once would hold up a popup for as long."""
        streams = self.streams()
        for start in range(0, len(streams), HEARTBEAT_SLICE):
            for connection in streams[start : start + HEARTBEAT_SLICE]:
                if connection.queue.empty():  # (one that ended meanwhile is not read again)
                    self._deliver(connection, frame)
            await asyncio.sleep(0)

    def streams(self) -> list[Connection]:
        """Every stream open in this process."""
        return [c for users in self._connections.values() for cs in users.values() for c in cs]

    def _close(self, connection: Connection) -> None:
        self.disconnect(connection)
        connection.write = None  # its sender ends the response: nothing is written past the end
        while not connection.queue.empty():  # make room for the closing marker
            connection.queue.get_nowait()
        connection.queue.put_nowait(None)
