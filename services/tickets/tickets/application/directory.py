"""The support directory's store and service: the admins' changes in, the checked view out.

The directory has its own eventsourcing application (its own notification log, so its relay publishes
to its own stream). Reads are served from a view kept in memory and refreshed when the stored version
has moved (looked up at most every `refresh_seconds`, one indexed row; at once after this process's
own write), so creating a ticket never replays the directory.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from shared.contracts.directory import SupportDirectory as DirectoryDocument
from shared.directory import DirectoryView
from tickets.application.app import ActorAsDict
from tickets.domain.directory import DIRECTORY_ID, SupportDirectory, check_document
from tickets.domain.errors import ConcurrentChange, VersionMismatch
from tickets.domain.values import SYSTEM, Actor


def default_document() -> dict[str, Any]:
    """The directory a new installation starts with (the product's published contacts and hours)."""
    text = files("tickets").joinpath("seed/directory.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


class DirectoryApplication(Application[UUID]):
    """The event store of the support directory. Its calls block: run them off the event loop."""

    name = "directory"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())

    def stored_version(self) -> int:
        """The directory's version in the store (0 when never written): one indexed row."""
        events = self.recorder.select_events(DIRECTORY_ID, desc=True, limit=1)
        return events[0].originator_version if events else 0

    def get_directory(self) -> SupportDirectory | None:
        try:
            aggregate: Any = self.repository.get(DIRECTORY_ID)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, SupportDirectory) else None


@dataclass(frozen=True)
class DirectoryChange:
    view: DirectoryView
    changed: bool


class DirectoryService:
    """The directory for the API and the ticket handlers (thread-safe)."""

    def __init__(
        self,
        app: DirectoryApplication,
        *,
        refresh_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._view: DirectoryView | None = None
        self._checked_at = float("-inf")

    def view(self) -> DirectoryView:
        """The current directory (blocking; cheap). Before the first write: the default document."""
        with self._lock:
            now = self._monotonic()
            if self._view is not None and now - self._checked_at < self.refresh_seconds:
                return self._view
            version = self.app.stored_version()
            if self._view is None or version != self._view.version:
                self._view = self._load()
            self._checked_at = now
            return self._view

    def _load(self) -> DirectoryView:
        aggregate = self.app.get_directory()
        if aggregate is None:
            view = check_document(default_document())
            return DirectoryView(view.document, version=0)
        return DirectoryView(DirectoryDocument.model_validate(aggregate.document), version=aggregate.version)

    async def current(self) -> DirectoryView:
        """`view()` off the event loop; a view checked within `refresh_seconds` is returned at once
        (no thread hop for the lookup that every create makes)."""
        view = self._view
        if view is not None and self._monotonic() - self._checked_at < self.refresh_seconds:
            return view
        return await asyncio.to_thread(self.view)

    def ensure_started(self, *, actor: Actor = SYSTEM) -> bool:
        """Record the default document if the directory was never written (idempotent); True if it was."""
        if self.app.stored_version():
            return False
        try:
            self.app.save(SupportDirectory.start(document=default_document(), actor=actor))
        except IntegrityError:
            return False  # another process started it first
        self._forget()
        return True

    def replace(
        self,
        *,
        document: dict[str, Any],
        actor: Actor,
        expected_version: int | None,
        correlation_id: str | None = None,
    ) -> DirectoryChange:
        """Record `document` as the directory (blocking); checked, and based on `expected_version`."""
        aggregate = self.app.get_directory()
        if aggregate is None:
            if expected_version not in (None, 0):
                check_document(document)
                raise VersionMismatch(expected_version, 0)
            aggregate = SupportDirectory.start(document=document, actor=actor, correlation_id=correlation_id)
            changed = True
        else:
            changed = aggregate.change(
                document=document,
                actor=actor,
                expected_version=expected_version,
                correlation_id=correlation_id,
            )
        if changed:
            try:
                self.app.save(aggregate)
            except IntegrityError:
                raise ConcurrentChange("the directory was changed meanwhile; read it again") from None
            self._forget()
        return DirectoryChange(view=self.view(), changed=changed)

    def _forget(self) -> None:
        with self._lock:
            self._checked_at = float("-inf")

    def cached(self) -> DirectoryView:
        """The view as last read, without asking the store (for labels read on the event loop)."""
        view = self._view
        return view if view is not None else self.view()


class DirectoryTopics(Collection[str]):
    """The ids of the directory's topics, as they are at each look (what a request may be filed under)."""

    def __init__(self, service: DirectoryService) -> None:
        self._service = service

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self._service.view().topics

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._service.view().topics))

    def __len__(self) -> int:
        return len(self._service.view().topics)


def promise_of(service: DirectoryService) -> Callable[[str, str, datetime], datetime | None]:
    """A new request's first-response due time, from the directory as it is when the request is filed."""

    def promise(topic_id: str, importance: str, filed_at: datetime) -> datetime | None:
        return service.view().first_response_due(topic_id, importance, filed_at)

    return promise


class DirectoryTopicNames:
    """Topic names in each language, from the directory (the `TopicNames` the views ask);
    `service` is looked up at each call (the directory is opened by the app's lifespan)."""

    def __init__(self, service: Callable[[], DirectoryService]) -> None:
        self._service = service

    def name(self, topic_id: str, lang: str) -> str:
        return self._service().cached().label(topic_id, str(lang))
