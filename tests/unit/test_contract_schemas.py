"""The checked-in event schemas and AsyncAPI document are what the contracts generate."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.contracts import kb, kb_v2, schema
from shared.contracts.chat import ChatEnded, ChatEventData, ChatStarted, EndReason, parse_chat_event
from shared.contracts.envelope import HEADER_MSG_ID, SYSTEM_ACTOR, EventEnvelope, envelope_headers
from shared.contracts.tickets import EVENT_TYPES

pytestmark = pytest.mark.unit


def test_the_checked_in_schemas_match_the_contracts_in_the_code() -> None:
    stale = schema.differences()
    assert not stale, f"event schemas out of date: {stale}; regenerate with `{schema.REGENERATE}`"
    assert schema.readme_is_current(), f"README's event table is out of date; run `{schema.REGENERATE}`"


def test_every_ticket_event_type_has_a_schema_and_an_asyncapi_channel_on_its_subject() -> None:
    files = schema.generate()
    document = json.loads(files[schema.ASYNCAPI_FILE])
    assert document["asyncapi"].startswith("3.")
    for event_type in EVENT_TYPES:
        key = f"{event_type}.v1"
        body = json.loads(files[f"tickets/{key}.json"])
        assert body["properties"]["type"]["const"] == event_type
        assert body["properties"]["schema_version"]["const"] == 1
        assert "data" in body["required"]
        channel = document["channels"][f"tickets.v1.{event_type.split('.')[1]}"]
        assert channel["address"] == f"helpdesk.tickets.v1.{event_type.split('.')[1]}"
        assert key in channel["messages"]
        payload = document["components"]["messages"][key]["payload"]["$ref"].rsplit("/", 1)[1]
        assert payload in document["components"]["schemas"]


def test_a_changed_contract_is_reported_as_a_difference(tmp_path: Path) -> None:
    schema.write(tmp_path)
    assert schema.differences(tmp_path) == []
    target = tmp_path / "tickets" / "ticket.created.v1.json"
    target.write_text(target.read_text().replace('"number"', '"numero"'))
    (tmp_path / "tickets" / "ticket.gone.v1.json").write_text("{}")
    assert schema.differences(tmp_path) == ["tickets/ticket.created.v1.json", "tickets/ticket.gone.v1.json"]
    assert schema.main([]) == 0


def test_every_event_type_and_version_is_pinned_in_its_schema_file() -> None:
    files = schema.generate()
    for event in schema.public_events():
        body = json.loads(files[event.schema_file])
        assert body["properties"]["type"]["const"] == event.event_type
        assert body["properties"]["schema_version"]["const"] == event.version


def address_pattern(address: str) -> re.Pattern[str]:
    """An AsyncAPI address as a regex: each `{parameter}` is one subject token."""
    return re.compile("^" + re.sub(r"\\{[a-z_]+\\}", r"[^.]+", re.escape(address)) + "$")


def test_the_kb_publishers_subjects_are_the_documented_channel_addresses() -> None:
    document = json.loads(schema.generate()[schema.ASYNCAPI_FILE])
    addresses = {
        message: channel["address"]
        for channel in document["channels"].values()
        for message in channel["messages"]
    }
    published = {
        "article.published.v1": kb.article_subject("kb:1"),
        "article.feedback_given.v1": kb.feedback_subject("kb:1"),
        "article.published.v2": kb_v2.article_subject("kb:1"),
        "article.retired.v2": kb_v2.article_subject("kb:1"),
        "section.created.v2": kb_v2.section_subject("reports"),
    }
    for key, subject in published.items():
        assert address_pattern(addresses[key]).match(subject), (key, subject, addresses[key])
    assert not address_pattern(addresses["article.published.v2"]).match("helpdesk.kb.v2.published")


def test_the_dead_letter_stream_and_the_subject_prefix_are_in_the_asyncapi_document() -> None:
    document = json.loads(schema.generate()[schema.ASYNCAPI_FILE])
    assert document["channels"]["dlq"]["address"] == "helpdesk.dlq.{consumer}"
    assert document["channels"]["dlq"]["x-jetstream-stream"] == "DEAD_LETTERS"
    assert "DEAD_LETTERS" in document["x-jetstream-streams"]
    assert document["x-subject-prefix"]["setting"] == "HELPDESK_NATS_PREFIX"
    assert "HELPDESK_NATS_PREFIX" in document["info"]["description"]
    envelope = document["components"]["schemas"]["TicketCreatedV1Event"]["properties"]
    assert "X-Correlation-Id" in envelope["correlation_id"]["description"]
    assert "event_id" in envelope["causation_id"]["description"]


def test_an_envelope_typed_by_the_base_data_class_publishes_every_field_of_the_event() -> None:
    for data in (
        ChatStarted(specialists_online=2, queue_position=1),
        ChatEnded(reason=EndReason.USER_LEFT, wait_seconds=1.5, duration_seconds=9, messages=4),
    ):
        envelope = EventEnvelope[ChatEventData](
            event_id=uuid.uuid4(),
            type="chat.started" if isinstance(data, ChatStarted) else "chat.ended",
            schema_version=1,
            occurred_at=datetime.now(UTC),
            account_id="hotel-1",
            aggregate_id=uuid.uuid4(),
            aggregate_version=1,
            actor=SYSTEM_ACTOR,
            data=data,
        )
        raw = envelope.model_dump_json()
        assert json.loads(raw)["data"] == data.model_dump(mode="json")
        assert parse_chat_event(raw).data == data
        assert envelope_headers(envelope)[HEADER_MSG_ID] == str(envelope.event_id)


REPO = Path(__file__).resolve().parents[2]
SUBJECT_MENTION = re.compile(r"helpdesk(?:\.(?:[A-Za-z0-9_*>-]+|<[^>]*>|\{[a-z_]+\}))+")


def tokens(subject: str) -> list[str]:
    """A subject, a filter or an address as tokens; a placeholder (`<…>`, `{…}`) is `*`."""
    return re.sub(r"<[^>]*>|\{[a-z_]+\}", "*", subject).split(".")


def overlaps(mention: list[str], channel: list[str]) -> bool:
    for i, token in enumerate(mention):
        if token == ">":
            return len(channel) > i
        if i >= len(channel) or (token != channel[i] and "*" not in (token, channel[i])):
            return False
    return len(mention) == len(channel)


def test_every_subject_a_readme_names_is_a_documented_channel() -> None:
    document = json.loads(schema.generate()[schema.ASYNCAPI_FILE])
    channels = [tokens(c["address"]) for c in document["channels"].values()]
    domains = {channel[1] for channel in channels}
    readmes = [REPO / "README.md", *sorted((REPO / "services").glob("*/README.md"))]
    mentions = {
        (path.relative_to(REPO).as_posix(), m.group(0).rstrip("."))
        for path in readmes
        for m in SUBJECT_MENTION.finditer(path.read_text())
        if tokens(m.group(0))[1] in domains and ".rt." not in m.group(0)  # the chat relay: core NATS only
    }
    assert any("kb.v2.article" in subject for _, subject in mentions)
    undocumented = [(path, s) for path, s in mentions if not any(overlaps(tokens(s), c) for c in channels)]
    assert not undocumented, f"subjects named in READMEs that no AsyncAPI channel has: {undocumented}"
