"""The new-request form's choices and limits, served before anything is uploaded."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.tickets_api import PNG, Api, file_part
from tickets.adapters.attachments import ALLOWED_TYPES
from tickets.application.directory import default_document

pytestmark = pytest.mark.e2e


@pytest.fixture
def tickets_backend() -> dict[str, Any]:
    """The form touches no database: SQLite is enough."""
    return {}


async def test_every_signed_in_role_reads_the_forms_choices_and_limits(api: Api) -> None:
    editor = {"Authorization": f"Bearer {api.make_token(role='editor', account=None, sub='ed-1')}"}
    for headers in (api.user(), api.agent(), editor):
        response = await api.client.get("/api/v1/request-form", headers=headers)
        assert response.status_code == 200, response.text
    form = response.json()
    expected = [(t["id"], t["names"]["en"]) for t in default_document()["topics"]]
    assert [(t["id"], t["name"]) for t in form["topics"]] == expected
    assert form["importance"] == ["low", "normal", "high", "critical"]
    assert form["default_importance"] == "normal"
    assert (form["comment_max"], form["message_max"]) == (200, 10_000)
    assert form["max_file_bytes"] == api.settings.max_file_bytes == 64 * 1024
    assert form["allowed_types"] == sorted(ALLOWED_TYPES)
    assert form["allowed_extensions"] == sorted(form["allowed_extensions"])
    assert {".pdf", ".png", ".jpg", ".jpeg", ".docx", ".xlsx", ".csv", ".txt"} <= set(
        form["allowed_extensions"]
    )
    assert all(ext.startswith(".") and ext == ext.lower() for ext in form["allowed_extensions"])


async def test_the_limits_the_form_announces_are_the_ones_the_create_endpoint_applies(api: Api) -> None:
    form = (await api.client.get("/api/v1/request-form", headers=api.user())).json()
    at_limit = await api.create(comment="c" * form["comment_max"], importance=form["importance"][-1])
    assert at_limit.status_code == 201, at_limit.text
    over = await api.create(comment="c" * (form["comment_max"] + 1))
    assert over.status_code == 422
    png = await api.create(files=[file_part("screen.png", PNG, "image/png")])
    assert png.status_code == 201, png.text
    too_big = b"\x89PNG\r\n\x1a\n" + b"\x00" * form["max_file_bytes"]
    assert (await api.create(files=[file_part("big.png", too_big, "image/png")])).status_code == 413


async def test_the_form_needs_a_token_and_is_described_in_the_openapi(api: Api) -> None:
    anonymous = await api.client.get("/api/v1/request-form")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    spec = (await api.client.get("/openapi.json")).json()
    ok = spec["paths"]["/api/v1/request-form"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/RequestForm")
    fields = spec["components"]["schemas"]["RequestForm"]["properties"]
    assert {"topics", "importance", "max_file_bytes", "allowed_types", "allowed_extensions"} <= set(fields)
