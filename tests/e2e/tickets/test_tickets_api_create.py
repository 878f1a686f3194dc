"""Creating requests over HTTP: the form, numbers, files, idempotency, limits."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from shared.auth import CachingTokenVerifier
from shared.edge import EdgeMiddleware, EdgeRules
from tests.conftest import auth
from tests.support.tickets_api import PDF, PNG, TOPIC, Api, file_part
from tickets.application.directory import default_document
from tickets.entrypoints.http_limits import PUBLIC_ROUTES, body_limits

pytestmark = pytest.mark.e2e


async def test_a_user_creates_a_request_and_gets_a_human_friendly_number(api: Api) -> None:
    body = await api.create_ok(importance="high")
    assert re.fullmatch(r"HD-\d{6}", body["number"])
    assert body["account_id"] == "hotel-a"
    assert body["version"] == 1
    assert body["id"] == body["ticket_id"]
    assert body["status"] == "new"
    assert body["created"] is True
    assert body["position"] is not None and body["position"] >= 1


async def test_the_topics_endpoint_serves_the_configured_list(api: Api) -> None:
    response = await api.client.get("/api/v1/topics", headers=api.user())
    assert response.status_code == 200
    topics = response.json()["topics"]
    assert [t["id"] for t in topics] == [t["id"] for t in default_document()["topics"]]
    assert next(t for t in topics if t["id"] == TOPIC)["name"] == "Reports"


async def test_an_unknown_topic_or_a_missing_field_is_a_422_in_the_error_shape(api: Api) -> None:
    response = await api.create(topic="Not a topic")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    response = await api.client.post(
        "/api/v1/tickets", data={"topic": TOPIC, "message": "no comment"}, headers=api.user()
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_a_comment_longer_than_the_limit_is_a_422(api: Api) -> None:
    response = await api.create(comment="x" * 201)
    assert response.status_code == 422


async def test_an_unknown_importance_is_a_422(api: Api) -> None:
    response = await api.create(importance="urgent!!!")
    assert response.status_code == 422


async def test_creating_needs_a_token(api: Api) -> None:
    response = await api.create(headers={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_support_creates_for_a_named_account_and_an_editor_may_not_create(api: Api) -> None:
    assert (await api.create(api.agent())).status_code == 422  # which account?
    body = await api.create_ok(api.agent(), account_id="hotel-c")
    assert body["account_id"] == "hotel-c"
    editor = auth(api.make_token(role="editor", account=None, sub="e1"))
    assert (await api.create(editor)).status_code == 403
    assert (await api.create(api.user(), account_id="hotel-z")).status_code == 403


async def test_a_request_with_one_file_stores_it_and_its_owner_downloads_it(api: Api) -> None:
    response = await api.create(files=[file_part("../../etc/screen:shot 1.png", PNG)])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["attachment_id"] is not None
    url = f"/api/v1/tickets/{body['ticket_id']}/attachments/{body['attachment_id']}"
    download = await api.client.get(url, headers=api.user())
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "/" not in disposition.split("filename*=")[1].replace("%2F", "")
    assert 'filename="screen_shot 1.png"' in disposition
    agent = await api.client.get(url, headers=api.agent())
    assert agent.status_code == 200


async def test_another_accounts_user_gets_404_for_the_ticket_and_its_attachment(api: Api) -> None:
    body = (await api.create(files=[file_part("doc.pdf", PDF)])).json()
    url = f"/api/v1/tickets/{body['ticket_id']}/attachments/{body['attachment_id']}"
    stranger = api.user(account="hotel-b", sub="u2")
    assert (await api.client.get(url, headers=stranger)).status_code == 404
    reply = await api.client.post(
        f"/api/v1/tickets/{body['ticket_id']}/replies", data={"text": "hi"}, headers=stranger
    )
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"
    unknown = f"/api/v1/tickets/{body['ticket_id']}/attachments/{body['ticket_id']}"
    assert (await api.client.get(unknown, headers=api.user())).status_code == 404


async def test_a_second_file_is_a_422_not_a_silent_drop(api: Api) -> None:
    response = await api.create(files=[file_part("a.png", PNG), file_part("b.pdf", PDF)])
    assert response.status_code == 422
    other_field = [file_part("a.png", PNG), ("attachment2", ("b.pdf", PDF, "application/pdf"))]
    response = await api.create(files=other_field)
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "at most one file per message"


async def test_a_file_over_the_cap_is_a_413(api: Api) -> None:
    big = PNG + b"\x00" * api.settings.max_file_bytes
    response = await api.create(files=[file_part("big.png", big)])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    body_too_big = PNG + b"\x00" * api.settings.max_upload_bytes
    response = await api.create(files=[file_part("bigger.png", body_too_big)])
    assert response.status_code == 413


async def test_a_file_type_off_the_allow_list_is_a_415(api: Api) -> None:
    response = await api.create(files=[file_part("setup.png", b"MZ\x90\x00" + b"\x00" * 200)])
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_ten_concurrent_creates_with_one_idempotency_key_make_one_request(api: Api) -> None:
    headers = {**api.user(), "Idempotency-Key": "form-42"}
    responses = await asyncio.wait_for(asyncio.gather(*(api.create(headers) for _ in range(10))), timeout=60)
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert len({b["ticket_id"] for b in bodies}) == 1
    assert len({b["number"] for b in bodies}) == 1
    assert sum(b["created"] for b in bodies) == 1
    other = await api.create({**api.user(), "Idempotency-Key": "form-43"})
    assert other.json()["ticket_id"] != bodies[0]["ticket_id"]


async def test_an_idempotency_key_reused_for_another_request_is_a_422(api: Api) -> None:
    headers = {**api.user(), "Idempotency-Key": "k-1"}
    assert (await api.create(headers)).status_code == 201
    response = await api.create(headers, comment="A different request")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_the_chat_services_form_files_a_request_under_the_chat_topic(api: Api) -> None:
    fields = {"topic": "chat", "comment": "From chat", "message": "Transcript", "importance": "normal"}
    parts = {name: (None, value) for name, value in fields.items()}  # as chat.adapters.tickets sends it
    headers = {**api.user(), "Idempotency-Key": "chat-1"}
    response = await api.client.post("/api/v1/tickets", files=parts, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["attachment_id"] is None


async def test_concurrent_creates_get_distinct_numbers(api: Api) -> None:
    responses = await asyncio.wait_for(asyncio.gather(*(api.create() for _ in range(30))), timeout=60)
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["number"] for r in responses}) == 30


async def test_an_oversized_upload_is_refused_before_a_byte_of_its_body_is_read(api: Api) -> None:
    received: list[object] = []

    async def app(scope: object, receive: object, send: object) -> None:
        received.append("app called")

    async def receive() -> dict[str, object]:
        received.append("body read")
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    # The tickets service's own declarations, at the shared edge every route goes through.
    rules = EdgeRules(public_routes=PUBLIC_ROUTES, body_limits=body_limits(api.settings))
    middleware = EdgeMiddleware(app, rules=rules)
    verifier = CachingTokenVerifier(api.settings.common)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/tickets",
        "headers": [
            (b"authorization", api.user()["Authorization"].encode()),
            (b"content-length", str(api.settings.max_upload_bytes + 1).encode()),
            (b"content-type", b"multipart/form-data; boundary=x"),
        ],
        "app": SimpleNamespace(state=SimpleNamespace(token_verifier=verifier)),
        "state": {},
    }
    await middleware(scope, receive, send)  # type: ignore[arg-type]
    assert received == []
    assert sent[0]["status"] == 413


async def test_a_chunked_upload_is_cut_off_at_the_limit_with_a_413(api: Api) -> None:
    limit = api.settings.max_upload_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield (
            b'--zzz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n"
        )
        for _ in range(limit // 8192 + 4):
            yield b"x" * 8192

    response = await api.client.post(
        "/api/v1/tickets",
        content=chunks(),
        headers={**api.user(), "Content-Type": "multipart/form-data; boundary=zzz"},
    )
    assert response.status_code == 413
