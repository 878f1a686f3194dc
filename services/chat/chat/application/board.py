"""The waiting queue as the specialists connected to this process see it.

The KV entries hold ids, states and times only; a waiting user's name and question live in the
memory of the process holding their WebSocket. This process asks for them there (core NATS
request/reply on the user's subject, as for the intake on assignment) only while specialists are
connected here, keeps them only while the session waits, and never logs them.

Every specialist connected here gets the whole queue on connect (`show`, after their `status`) and
again whenever it changes, at most once every `queue_update_seconds`: one frame for all, built once
per change. Showing and broadcasting take turns, so nobody misses a change in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from chat.adapters.directory import Change
from chat.adapters.errors import NATS_AWAY
from chat.application.agent_connection import AgentConnection
from chat.application.context import HubContext
from chat.domain import server_frames as out
from chat.domain.model import QueueEntry, QueueState, waiting_in_order
from shared.logging import get_logger
from shared.stopping import wait_set

log = get_logger(__name__)

# NATS away, or a user's process answered with something that is not JSON.
_NOT_SHOWN: tuple[type[Exception], ...] = (*NATS_AWAY, ValueError)

# How long to wait for a user's process to tell the name and question, and how long to wait before
# asking again one that did not answer (the row is shown meanwhile, without them).
CARD_TIMEOUT_SECONDS = 2.0
CARD_RETRY_SECONDS = 3.0
MAX_CONCURRENT_ASKS = 16


@dataclass(frozen=True, slots=True)
class Card:
    """What the user typed into the chat form, minus the phone (shown only once a chat is taken)."""

    name: str
    question: str

    def __repr__(self) -> str:  # keeps the name and the question out of any accidental log line
        return "Card(<redacted>)"


def queue_entries(waiting: list[QueueEntry], cards: Mapping[str, Card | None]) -> list[out.QueueRow]:
    """The `entries` of a queue frame: `waiting` in serving order (see `waiting_in_order`); name and
    question None where the user's process has not (yet) told them."""
    entries: list[out.QueueRow] = []
    for position, entry in enumerate(waiting, start=1):
        card = cards.get(entry.sid)
        since = datetime.fromtimestamp(entry.since, tz=UTC)
        entries.append(
            out.QueueRow(
                session=entry.sid,
                waiting_since=since.isoformat(timespec="milliseconds"),
                account_id=entry.account_id,
                name=card.name if card else None,
                question=card.question if card else None,
                position=position,
            )
        )
    return entries


class QueueBoard:
    def __init__(self, ctx: HubContext, *, connections: Callable[[], Iterable[AgentConnection]]) -> None:
        self._ctx = ctx
        self._connections = connections
        self._cards: dict[str, Card | None] = {}  # None: asked, no answer yet
        self._unanswered: dict[str, float] = {}  # session → when its process last failed to answer
        self._sent: list[out.QueueRow] | None = None
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def on_change(self, change: Change) -> None:
        if isinstance(change.old, QueueEntry) or isinstance(change.new, QueueEntry):
            self._changed.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chat-queue-board")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._forget()

    async def show(self, conn: AgentConnection) -> None:
        """The queue as it stands, to one specialist who just connected; then every change of it."""
        async with self._lock:
            conn.watching = True  # under the lock: no broadcast can come before this first frame
            try:
                entries = await self._entries()
            except _NOT_SHOWN:  # NATS away (or a bad reply): the next round sends it
                log.warning("chat_queue_not_shown", exc_info=True)
                self._sent = None
                self._changed.set()
                return
            await conn.send(out.Queue(entries=entries))

    async def _run(self) -> None:
        interval = self._ctx.config.queue_update_seconds
        while True:
            retry = CARD_RETRY_SECONDS if self._unanswered else None
            await wait_set(self._changed, retry)
            self._changed.clear()
            try:
                await self._broadcast()
            except asyncio.CancelledError:
                raise
            except Exception:  # the board serves every specialist here: try again after the interval
                log.exception("chat_queue_board_failed")
                self._changed.set()
            await asyncio.sleep(interval)  # the debounce: changes meanwhile make one frame

    async def _broadcast(self) -> None:
        async with self._lock:
            if not any(True for _ in self._connections()):
                self._forget()
                return
            entries = await self._entries()
            if entries == self._sent:
                return
            self._sent = entries
            frame = out.Queue(entries=entries)
            watching = [conn for conn in self._connections() if conn.watching]
            await asyncio.gather(*(conn.send(frame) for conn in watching))

    async def _entries(self) -> list[out.QueueRow]:
        waiting = self._waiting()
        await self._ask([e for e in waiting if self._due(e.sid)])
        # Users may have been taken or left while we asked: show the queue as it is now.
        return queue_entries(self._waiting(), self._cards)

    def _waiting(self) -> list[QueueEntry]:
        """The waiting users in serving order; the cards of everyone else are dropped."""
        waiting = waiting_in_order(v.value for v in self._ctx.directory.queue.values())
        present = {e.sid for e in waiting}
        for sid in [s for s in self._cards if s not in present]:
            del self._cards[sid]
        for sid in [s for s in self._unanswered if s not in present]:
            del self._unanswered[sid]
        return waiting

    def _due(self, sid: str) -> bool:
        if self._cards.get(sid) is not None:
            return False
        failed_at = self._unanswered.get(sid)
        return failed_at is None or time.monotonic() - failed_at >= CARD_RETRY_SECONDS

    async def _ask(self, entries: list[QueueEntry]) -> None:
        if not entries:
            return
        relay = self._ctx.relay
        within = min(CARD_TIMEOUT_SECONDS, self._ctx.config.request_timeout_seconds)
        limit = asyncio.Semaphore(MAX_CONCURRENT_ASKS)

        async def ask(sid: str) -> None:
            async with limit:
                reply = await relay.request(relay.user_subject(sid), {"t": "card"}, within=within)
            current = self._ctx.directory.queue.get(sid)
            if current is None or current.value.state is not QueueState.WAITING:
                return  # no longer waiting: keep nothing of it
            if reply is not None and reply.get("ok"):
                name, question = str(reply.get("name", "")), str(reply.get("question", ""))
                self._cards[sid] = Card(name=name, question=question)
                self._unanswered.pop(sid, None)
            else:
                self._cards[sid] = None
                self._unanswered[sid] = time.monotonic()

        await asyncio.gather(*(ask(e.sid) for e in entries))

    def _forget(self) -> None:
        self._cards.clear()
        self._unanswered.clear()
        self._sent = None
