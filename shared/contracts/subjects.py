"""The subject naming scheme, in one place.

    helpdesk.<domain>.v<schema version>.<event>          public events (JetStream)
    helpdesk.dlq.<consumer>                              dead letters, with the reason in a header
    helpdesk.chat.rt.<...>                               chat relay (core NATS, never persisted)

`<domain>` is one of `tickets`, `popups`, `chat`, `kb`; `<event>` is the part of the event type after
the dot (`ticket.replied` → `replied`). A stream captures `helpdesk.<domain>.>` so that a new version
is published side by side with the old one on the same stream.

A contract module may put event types on other channels (`CHANNELS`: event type → `Channel`), e.g.
one subject per article (`helpdesk.kb.v2.article.{article_key}`). Publishers take their subjects from
the same `Channel` objects the AsyncAPI document is generated from.
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


STREAMS = (TICKETS_STREAM, POPUPS_STREAM, CHAT_STATS_STREAM, KB_STREAM, DIRECTORY_STREAM)


@dataclass(frozen=True)
class Channel:
    """Where events are published: `helpdesk.<domain>.v<version>.<name>`, and, with a `parameter`,
    one more token per entity (`helpdesk.kb.v1.feedback.{article_key}`)."""

    domain: str
    version: int
    name: str
    parameter: str | None = None
    parameter_doc: str = ""

    @property
    def key(self) -> str:
        """The channel's id in the AsyncAPI document: `kb.v2.article`."""
        return f"{self.domain}.v{self.version}.{self.name}"

    @property
    def address(self) -> str:
        """The AsyncAPI address: the subject with `{parameter}` for the per-entity token."""
        base = f"{ROOT}.{self.key}"
        return f"{base}.{{{self.parameter}}}" if self.parameter else base

    @property
    def filter(self) -> str:
        """The NATS subject filter matching every subject of the channel."""
        base = f"{ROOT}.{self.key}"
        return f"{base}.*" if self.parameter else base

    def subject(self, token: str | None = None) -> str:
        """The subject to publish on; `token` fills the parameter (and is required exactly then)."""
        if (token is None) != (self.parameter is None):
            raise ValueError(f"{self.address}: parameter {self.parameter!r}, token {token!r}")
        base = f"{ROOT}.{self.key}"
        return f"{base}.{token}" if token is not None else base


def event_channel(domain: str, event_type: str, version: int) -> Channel:
    """The default channel of an event type: its own subject, named after the part after the dot."""
    _, _, name = event_type.partition(".")
    return Channel(domain, version, name or event_type)


def event_subject(domain: str, event_type: str, version: int) -> str:
    """`event_subject("tickets", "ticket.replied", 1)` → `helpdesk.tickets.v1.replied`."""
    return event_channel(domain, event_type, version).subject()


def stream_of(domain: str) -> StreamSpec:
    """The stream that captures a domain's public events (a new domain adds its spec to `STREAMS`)."""
    for spec in STREAMS:
        if spec.domain == domain:
            return spec
    raise LookupError(
        f"no stream captures the {domain!r} domain: add its StreamSpec to STREAMS "
        "(or name it as `STREAM` in the domain's contract module)"
    )


def dead_letter_subject(consumer: str) -> str:
    return f"{ROOT}.dlq.{consumer}"


def with_prefix(prefix: str, subject: str) -> str:
    """Tests isolate themselves by prefixing every subject (and stream name) they use."""
    return f"{prefix}.{subject}" if prefix else subject
