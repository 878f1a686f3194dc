"""The checked-in event schemas and AsyncAPI document are what the contracts generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.contracts import schema
from shared.contracts.tickets import EVENT_TYPES

pytestmark = pytest.mark.unit


def test_the_checked_in_schemas_match_the_contracts_in_the_code() -> None:
    stale = schema.differences()
    assert not stale, f"event schemas out of date: {stale}; regenerate with `{schema.REGENERATE}`"


def test_every_ticket_event_type_has_a_schema_and_an_asyncapi_channel_on_its_subject() -> None:
    files = schema.generate()
    document = json.loads(files[schema.ASYNCAPI_FILE])
    assert document["asyncapi"].startswith("3.")
    for event_type in EVENT_TYPES:
        key = f"{event_type}.v1"
        body = json.loads(files[f"tickets/{key}.json"])
        assert body["properties"]["type"]["type"] == "string"
        assert "data" in body["required"]
        channel = document["channels"][key]
        assert channel["address"] == f"helpdesk.tickets.v1.{event_type.split('.')[1]}"
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
