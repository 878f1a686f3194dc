"""Stored directory events → the public contract (`shared.contracts.directory`), one at a time.

Both stored kinds (`Started`, `Changed`) carry the whole document, so each maps onto one
`directory.changed` on its own; `event_id` is stable (uuid5 of aggregate id and version), which is
what makes the relay's re-publication after a crash harmless.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from shared.contracts.directory import (
    DIRECTORY_ACCOUNT_ID,
    SCHEMA_VERSION,
    DirectoryChanged,
    SupportDirectory,
)
from shared.contracts.envelope import Actor as PublicActor
from shared.contracts.envelope import ActorKind as PublicActorKind
from shared.contracts.envelope import EventEnvelope
from tickets.application.public_events import Publication
from tickets.domain.directory import SupportDirectory as SupportDirectoryAggregate

EVENT_ID_NAMESPACE = UUID("7a3c9e51-4d2b-5f86-a0c1-3e5b7d9f1a2c")
_STORED = frozenset({SupportDirectoryAggregate.Started, SupportDirectoryAggregate.Changed})
# The library's default `Created` is never recorded: the directory starts with `Started`.
DIRECTORY_PUBLICATION = Publication(
    aggregates=(SupportDirectoryAggregate,),
    public=dict.fromkeys(_STORED),
    private=frozenset({SupportDirectoryAggregate.Created}),
)


def directory_event_id(aggregate_id: UUID, version: int) -> UUID:
    return uuid5(EVENT_ID_NAMESPACE, f"{aggregate_id}:{version}")


def to_public(domain_event: Any) -> EventEnvelope[Any] | None:
    """The public envelope of one stored directory event, or None when it has no public form."""
    if type(domain_event) not in _STORED:
        return None
    aggregate_id: UUID = domain_event.originator_id
    version: int = domain_event.originator_version
    actor = domain_event.actor
    return EventEnvelope[Any](
        event_id=directory_event_id(aggregate_id, version),
        type="directory.changed",
        schema_version=SCHEMA_VERSION,
        occurred_at=domain_event.timestamp,
        account_id=DIRECTORY_ACCOUNT_ID,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        actor=PublicActor(kind=PublicActorKind(actor.kind.value), id=actor.id, name=actor.name[:200]),
        correlation_id=domain_event.correlation_id,
        data=DirectoryChanged(
            version=version,
            changed=list(domain_event.changed),
            directory=SupportDirectory.model_validate(domain_event.document),
        ),
    )
