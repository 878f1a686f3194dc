"""The subject naming scheme, in one place.

    helpdesk.<domain>.v<schema version>.<event>          public events (JetStream)
    helpdesk.dlq.<consumer>                              dead letters, with the reason in a header
    helpdesk.chat.rt.<...>                               chat relay (core NATS, never persisted)

`<domain>` is one of `tickets`, `popups`, `chat`, `kb`; `<event>` is the part of the event type after
the dot (`ticket.replied` → `replied`). A stream captures `helpdesk.<domain>.>` so that a new version
is published side by side with the old one on the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "helpdesk"


@dataclass(frozen=True)
class StreamSpec:
    """A JetStream stream this product owns: its name and the subjects it captures."""

    name: str
    domain: str
    # Patterns below `helpdesk.<domain>` when the stream must not capture all of it.
    only: tuple[str, ...] = ()

    def stream_name(self, prefix: str = "") -> str:
        """The stream's name under a test prefix (`T1A2_TICKETS`), or its plain name."""
        return f"{prefix.upper().replace('.', '_')}_{self.name}" if prefix else self.name

    @property
    def subjects(self) -> list[str]:
        if self.only:
            return [f"{ROOT}.{self.domain}.{pattern}" for pattern in self.only]
        return [f"{ROOT}.{self.domain}.>"]


TICKETS_STREAM = StreamSpec(name="TICKETS", domain="tickets")
POPUPS_STREAM = StreamSpec(name="POPUPS", domain="popups")
# Only the versioned statistics events: the live relay's `helpdesk.chat.rt.>` must never be persisted.
CHAT_STATS_STREAM = StreamSpec(name="CHAT_STATS", domain="chat", only=("v1.>",))
KB_STREAM = StreamSpec(name="KB_ARTICLES", domain="kb")
# The support directory (topics, contacts, hours), owned and published by the tickets service.
DIRECTORY_STREAM = StreamSpec(name="SUPPORT_DIRECTORY", domain="directory")
DLQ_STREAM = StreamSpec(name="DEAD_LETTERS", domain="dlq")


def event_subject(domain: str, event_type: str, version: int) -> str:
    """`event_subject("tickets", "ticket.replied", 1)` → `helpdesk.tickets.v1.replied`."""
    _, _, name = event_type.partition(".")
    return f"{ROOT}.{domain}.v{version}.{name or event_type}"


def dead_letter_subject(consumer: str) -> str:
    return f"{ROOT}.dlq.{consumer}"


def with_prefix(prefix: str, subject: str) -> str:
    """Tests isolate themselves by prefixing every subject (and stream name) they use."""
    return f"{prefix}.{subject}" if prefix else subject
