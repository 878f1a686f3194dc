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


async def test_the_create_endpoint_documents_its_form_as_one_model_with_the_limits_it_applies(
    api: Api,
) -> None:
    """The form is validated as one model (`NewRequestForm`), still sent as multipart: its schema
    names every field with the limits the endpoint enforces and the form endpoint announces."""
    spec = (await api.client.get("/openapi.json")).json()
    body = spec["paths"]["/api/v1/tickets"]["post"]["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == ["multipart/form-data"]
    assert body["content"]["multipart/form-data"]["schema"]["$ref"].endswith("/NewRequestForm")
    form = spec["components"]["schemas"]["NewRequestForm"]
    fields = form["properties"]
    assert set(fields) == {"topic", "comment", "message", "importance", "account_id", "file"}
    assert form["required"] == ["topic", "comment", "message"]
    assert (fields["topic"]["minLength"], fields["topic"]["maxLength"]) == (1, 100)
    assert (fields["comment"]["minLength"], fields["comment"]["maxLength"]) == (1, 200)
    assert (fields["message"]["minLength"], fields["message"]["maxLength"]) == (1, 10_000)
    assert fields["importance"]["default"] == "normal"
    assert {"type": "string", "maxLength": 64} in fields["account_id"]["anyOf"]
    assert {"type": "string", "contentMediaType": "application/octet-stream"} in fields["file"]["anyOf"]


async def test_a_create_form_with_several_bad_fields_names_each_of_them(api: Api) -> None:
    """One model validation still reports every field that is wrong, each under its form name."""
    response = await api.create(topic="", comment="c" * 201, message="a\x00b", importance="urgent")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert {tuple(d["loc"]): d["type"] for d in error["details"]} == {
        ("body", "topic"): "missing",
        ("body", "comment"): "string_too_long",
        ("body", "message"): "control_character",
        ("body", "importance"): "enum",
    }


async def test_the_reply_endpoint_documents_its_form_as_one_model_and_checks_it_as_before(api: Api) -> None:
    """The reply form is one model too (`ReplyForm`): the text's limit and control characters are
    refused under the form's field name, an empty text with no file is the endpoint's own 422."""
    spec = (await api.client.get("/openapi.json")).json()
    body = spec["paths"]["/api/v1/tickets/{ticket_id}/replies"]["post"]["requestBody"]
    assert body["content"]["multipart/form-data"]["schema"]["$ref"].endswith("/ReplyForm")
    fields = spec["components"]["schemas"]["ReplyForm"]["properties"]
    assert set(fields) == {"text", "file"}
    assert (fields["text"]["maxLength"], fields["text"]["default"]) == (10_000, "")
    ticket = await api.create_ok()
    url = f"/api/v1/tickets/{ticket['ticket_id']}/replies"
    at_limit = await api.client.post(url, data={"text": "x" * 10_000}, headers=api.user())
    assert at_limit.status_code == 201, at_limit.text
    for text, kind in (("x" * 10_001, "string_too_long"), ("a\x07b", "control_character")):
        refused = await api.client.post(url, data={"text": text}, headers=api.user())
        assert refused.status_code == 422
        assert [(d["loc"], d["type"]) for d in refused.json()["error"]["details"]] == [
            (["body", "text"], kind)
        ]
    nothing = await api.client.post(url, data={"text": ""}, headers=api.user())
    assert nothing.status_code == 422
    assert nothing.json()["error"] == {
        "code": "validation_error",
        "message": "a reply needs text or a file",
        "details": [],
        "request_id": nothing.json()["error"]["request_id"],
    }
