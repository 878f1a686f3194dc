"""Stored events keep their topics and fields (events already in SQLite or PostgreSQL must still
load), and every event the tickets service stores either has a public form or is declared private:
the service refuses to start otherwise."""

from __future__ import annotations

import dataclasses

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic, resolve_topic

from tickets.application.directory_events import DIRECTORY_PUBLICATION
from tickets.application.public_events import TICKET_PUBLICATION, Publication, UnpublishedEvent

STAMP = [
    "originator_id", "originator_version", "timestamp", "account_id", "number", "actor", "correlation_id",
]  # fmt: skip
STORED = {
    "tickets.domain.ticket:Ticket.Created": [
        "originator_id", "originator_version", "timestamp", "originator_topic", "ticket_id", "account_id",
        "number", "actor", "topic", "importance", "comment", "message", "message_id", "correlation_id",
        "fingerprint", "first_response_due",
    ],
    "tickets.domain.ticket:Ticket.Replied": [*STAMP, "message_id", "author_role", "text"],
    "tickets.domain.ticket:Ticket.FirstResponseOverdue": [*STAMP, "due"],
    "tickets.domain.ticket:Ticket.InternalNoteAdded": [*STAMP, "note_id", "text"],
    "tickets.domain.ticket:Ticket.StatusChanged": [*STAMP, "old", "new", "reason"],
    "tickets.domain.ticket:Ticket.TopicChanged": [*STAMP, "old", "new"],
    "tickets.domain.ticket:Ticket.PriorityChanged": [*STAMP, "old", "new"],
    "tickets.domain.ticket:Ticket.AssigneeChanged": [*STAMP, "old", "new", "new_name"],
    "tickets.domain.ticket:Ticket.AttachmentAdded": [
        *STAMP, "attachment_id", "message_id", "object_name", "filename", "content_type", "size", "sha256",
    ],
    "tickets.domain.numbers:NumberBlock.Reserved": [
        "originator_id", "originator_version", "timestamp", "originator_topic", "index", "reserved_by",
    ],
    "tickets.domain.directory:SupportDirectory.Started": [
        "originator_id", "originator_version", "timestamp", "originator_topic", "document", "changed",
        "actor", "correlation_id",
    ],
    "tickets.domain.directory:SupportDirectory.Changed": [
        "originator_id", "originator_version", "timestamp", "document", "changed", "actor", "correlation_id",
    ],
}  # fmt: skip


@pytest.mark.parametrize("topic", sorted(STORED))
def test_a_stored_event_keeps_its_topic_and_its_fields(topic: str) -> None:
    cls = resolve_topic(topic)
    assert get_topic(cls) == topic
    assert [f.name for f in dataclasses.fields(cls)] == STORED[topic]


def test_every_event_the_aggregates_record_is_stored_under_a_pinned_topic() -> None:
    recorded = {
        get_topic(cls)
        for publication in (TICKET_PUBLICATION, DIRECTORY_PUBLICATION)
        for cls in publication.recorded_events()
    }
    never_recorded = {  # the library's default `Created`, where the aggregate names its own
        "tickets.domain.numbers:NumberBlock.Created",
        "tickets.domain.directory:SupportDirectory.Created",
    }
    assert recorded - never_recorded == set(STORED)


def test_every_recorded_event_is_published_or_declared_private() -> None:
    TICKET_PUBLICATION.check()
    DIRECTORY_PUBLICATION.check()


class Gadget(Aggregate):
    @event("Made")
    def __init__(self, *, name: str) -> None:
        self.name = name

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


def test_an_event_with_neither_a_public_form_nor_a_private_declaration_stops_the_start() -> None:
    publication = Publication(
        aggregates=(Gadget,),
        public={Gadget.Made: None},  # type: ignore[attr-defined]
        private=frozenset({Gadget.Created}),
    )
    with pytest.raises(UnpublishedEvent, match=r"Gadget\.Renamed"):
        publication.check()
