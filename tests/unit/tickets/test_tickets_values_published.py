"""The statuses, importances and priorities a request is stored with are the ones its public events carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.contracts import tickets as contract
from tickets.domain import values

pytestmark = pytest.mark.unit

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "schemas"
SCHEMA = SCHEMAS / "tickets" / "ticket.created.v1.json"


def test_the_domain_and_the_contract_share_one_list_of_each() -> None:
    assert values.Status is contract.Status
    assert values.Importance is contract.Importance
    assert values.Priority is contract.Priority


def test_the_stored_values_are_those_the_published_schema_promises() -> None:
    definitions = json.loads(SCHEMA.read_text())["$defs"]
    assert definitions["Status"]["enum"] == [status.value for status in values.Status]
    assert definitions["Importance"]["enum"] == [importance.value for importance in values.Importance]
