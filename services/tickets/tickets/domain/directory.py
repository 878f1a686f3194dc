"""The `SupportDirectory` aggregate: support's topics, contacts, calendars and response targets.

One aggregate (a fixed id) holds the whole directory; its version is the `ETag` admins send back in
`If-Match`. Every change records the whole document as it is after the change (`Changed`), so each
stored event maps onto its public form on its own, and a consumer needs only the latest one. The rules
(calendars, references, e-mails) are checked by `shared.directory.DirectoryView` before recording.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.directory import DirectoryInvalid, DirectoryView
from tickets.domain.errors import InvalidInput, VersionMismatch
from tickets.domain.values import Actor

DIRECTORY_ID = uuid5(UUID("0c9e4b1a-3f5d-5e6a-9b7c-1d2e3f4a5b6c"), "support-directory")


def check_document(document: dict[str, Any]) -> DirectoryView:
    """The checked view of `document` (its JSON form), or `InvalidInput` naming the broken field."""
    try:
        return DirectoryView.from_json(document)
    except DirectoryInvalid as exc:
        raise InvalidInput(str(exc), field=exc.field) from None


def changed_parts(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """What differs between two documents: `topic:<id>`, `calendar:<id>`, `contacts`, `targets`."""
    parts: list[str] = []
    for kind, key in (("topic", "topics"), ("calendar", "calendars")):
        before = {item["id"]: item for item in (old or {}).get(key, [])}
        after = {item["id"]: item for item in new.get(key, [])}
        parts += [
            f"{kind}:{i}" for i in sorted(before.keys() | after.keys()) if before.get(i) != after.get(i)
        ]
    if old is not None and [t["id"] for t in old.get("topics", [])] != [t["id"] for t in new["topics"]]:
        parts.append("topics:order")
    for key, name in (("contacts", "contacts"), ("response_targets", "targets")):
        if (old or {}).get(key) != new.get(key):
            parts.append(name)
    return parts


class SupportDirectory(Aggregate):
    """The directory as a stream of whole-document changes."""

    # Stored as `SupportDirectory.Started` / `.Changed`: never rename them.
    class Started(Aggregate.Created):
        document: dict[str, Any]
        changed: list[str]
        actor: Actor
        correlation_id: str | None

    class Changed(Aggregate.Event):
        document: dict[str, Any]
        changed: list[str]
        actor: Actor
        correlation_id: str | None

    @staticmethod
    def create_id() -> UUID:
        return DIRECTORY_ID

    @classmethod
    def start(
        cls, *, document: dict[str, Any], actor: Actor, correlation_id: str | None = None
    ) -> SupportDirectory:
        check_document(document)
        return cls(
            document=document,
            changed=changed_parts(None, document),
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(Started)
    def __init__(
        self, *, document: dict[str, Any], changed: list[str], actor: Actor, correlation_id: str | None
    ) -> None:
        self.document = document

    def check_version(self, expected: int | None) -> None:
        if expected is not None and expected != self.version:
            raise VersionMismatch(expected, self.version)

    def change(
        self,
        *,
        document: dict[str, Any],
        actor: Actor,
        expected_version: int | None,
        correlation_id: str | None = None,
    ) -> bool:
        """Replace the document (checked first); False, nothing recorded, when nothing differs."""
        self.check_version(expected_version)
        check_document(document)
        parts = changed_parts(self.document, document)
        if not parts:
            return False
        self._changed(document=document, changed=parts, actor=actor, correlation_id=correlation_id)
        return True

    @event(Changed)
    def _changed(
        self, *, document: dict[str, Any], changed: list[str], actor: Actor, correlation_id: str | None
    ) -> None:
        self.document = document
