"""Chat's copy of the support directory: the last `directory.changed` on the SUPPORT_DIRECTORY stream.

The tickets service owns the directory and publishes each change whole; this follows the stream from
its last message on (an ordered consumer: nothing to acknowledge, nothing kept on the server), so a
change of hours or teams reaches routing without a restart. Until the first message arrives (or when
the stream does not exist) there is no directory: chat routes as it always did (no topics, open).
"""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Gauge
from pydantic import ValidationError

from shared.contracts.directory import DirectoryChanged, parse_directory_event
from shared.contracts.envelope import UnknownEventType
from shared.contracts.subjects import DIRECTORY_STREAM, ROOT, with_prefix
from shared.directory import DirectoryInvalid, DirectoryView
from shared.logging import get_logger
from shared.nats import follow

log = get_logger(__name__)

RETRY_SECONDS = 2.0
VERSION = Gauge("helpdesk_chat_support_directory_version", "The support directory version chat routes by")


class SupportHours:
    """The latest support directory this process has seen (`view`, None before the first)."""

    def __init__(self, js: JetStreamContext | None, *, prefix: str = "") -> None:
        self._js = js
        self._prefix = prefix
        self.view: DirectoryView | None = None
        self.changed = asyncio.Event()  # set on each new version (tests and the hub wait on it)
        self._task: asyncio.Task[None] | None = None
        self._subscription: object | None = None

    def apply(self, view: DirectoryView) -> bool:
        """Take `view` if it is newer than the one held (replays and duplicates change nothing)."""
        if self.view is not None and view.version <= self.view.version:
            return False
        self.view = view
        VERSION.set(view.version)
        self.changed.set()
        log.info("chat_directory_followed", version=view.version)
        return True

    def start(self) -> None:
        if self._js is not None:
            self._task = asyncio.create_task(self._run(), name="chat-support-directory")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()  # type: ignore[attr-defined]

    async def _run(self) -> None:
        assert self._js is not None
        stream = DIRECTORY_STREAM.stream_name(self._prefix)
        subject = with_prefix(self._prefix, f"{ROOT}.{DIRECTORY_STREAM.domain}.>")
        while True:
            try:
                self._subscription = await follow(
                    self._js, stream=stream, subject=subject, cb=self._on_message, deliver=DeliverPolicy.LAST
                )
                return
            except NotFoundError:
                log.info("chat_directory_stream_missing", stream=stream)
            except (NatsError, TimeoutError) as exc:
                log.warning("chat_directory_subscribe_failed", error=repr(exc))
            await asyncio.sleep(RETRY_SECONDS)

    async def _on_message(self, msg: Msg) -> None:
        try:
            envelope = parse_directory_event(msg.data)
            data = envelope.data
            if not isinstance(data, DirectoryChanged):
                return
            self.apply(DirectoryView(data.directory, version=data.version))
        except (ValidationError, UnknownEventType, DirectoryInvalid, ValueError) as exc:
            # Nothing to dead-letter on an ordered consumer: the last good directory stays in force.
            log.warning("chat_directory_event_refused", error=type(exc).__name__)
