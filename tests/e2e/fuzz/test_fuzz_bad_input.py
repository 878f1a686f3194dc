"""Hand-written bad input the generator does not make: oversized promises, two files, bytes that are
not UTF-8, huge query strings, JSON that is an array, null or nested past any sane depth, wrong media
types, mangled tokens. Every answer: < 500, every 4xx in the shared error shape, nothing hangs."""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

import httpx
import pytest

from tests.e2e.fuzz.fuzz_harness import PNG, WAIT, Running, assert_contract, raw_request, seed

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Headers = dict[str, dict[str, str]]
BOUNDARY = "fuzzboundary7MA4YWxkTrZu0gW"
JSON_BODIES = [b"[]", b"null", b"[1, 2, 3]", b'"text"', b"42", b"{", b"", b"\xff\xfe{}", b"{}" * 3]
DEEP = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000]


def check(response: httpx.Response, what: str) -> None:
    assert_contract(response.status_code, response.content, response.headers.get("content-type", ""), what)


def multipart(*parts: tuple[str, bytes, str | None]) -> bytes:
    """A multipart body from (field name, value, file name or None) — bytes as given, no re-encoding."""
    out = b""
    for name, value, filename in parts:
        out += f"--{BOUNDARY}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: image/png\r\n"
        out += b"\r\n" + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def head(method: str, target: bytes, token_headers: dict[str, str], *extra: str) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [f"{k}: {v}".encode() for k, v in token_headers.items()]
    lines += [line.encode() for line in extra]
    return b"\r\n".join(lines)


async def test_a_50_mb_content_length_on_the_create_form_is_413_before_the_body_is_read(
    tickets: Running, role_headers: Headers
) -> None:
    for path in (
        b"/api/v1/tickets",
        f"/api/v1/tickets/{(await seed(tickets, role_headers))['ticket_id']}/replies".encode(),
    ):
        started = time.monotonic()
        answer = await raw_request(
            tickets.port,
            head(
                "POST",
                path,
                role_headers["user"],
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
                f"Content-Length: {50 * 1024 * 1024}",
            ),
            multipart(("topic", b"reports", None))[:100],  # a few bytes of the promised 50 MB only
            timeout=10,
        )
        assert answer.status == 413, answer
        assert_contract(answer.status, answer.body, answer.content_type, path.decode())
        assert time.monotonic() - started < 5  # answered at once, not after waiting for 50 MB


async def test_a_multipart_body_with_two_files_is_422_and_files_nothing(
    tickets: Running, role_headers: Headers
) -> None:
    body = multipart(
        ("topic", b"reports", None),
        ("comment", b"two files", None),
        ("message", b"two files attached", None),
        ("file", PNG, "a.png"),
        ("file", PNG, "b.png"),
    )
    headers = {**role_headers["user"], "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with httpx.AsyncClient(base_url=tickets.url, timeout=WAIT) as client:
        response = await client.post("/api/v1/tickets", content=body, headers=headers)
        assert response.status_code == 422, response.text
        check(response, "two files")
        listed = await client.get("/api/v1/tickets", headers=role_headers["user"])
        assert listed.status_code == 200 and listed.json()["items"] == []


async def test_non_utf8_bytes_in_form_fields_never_cost_a_5xx(
    tickets: Running, role_headers: Headers
) -> None:
    headers = {**role_headers["user"], "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    bad = b"\xff\xfe\xc3\x28 \xed\xa0\x80 \x00"
    forms: list[list[tuple[str, bytes, str | None]]] = [
        [("topic", bad, None), ("comment", b"c", None), ("message", b"m", None)],
        [("topic", b"reports", None), ("comment", bad, None), ("message", bad, None)],
        [
            ("topic", b"reports", None),
            ("comment", b"c", None),
            ("message", b"m", None),
            ("file", PNG, "\xff.png"),
        ],
        [(bad.decode("latin-1"), b"x", None), ("topic", b"reports", None)],
    ]
    async with httpx.AsyncClient(base_url=tickets.url, timeout=WAIT) as client:
        for form in forms:
            response = await client.post("/api/v1/tickets", content=multipart(*form), headers=headers)
            check(response, f"form {form!r:.100}")
        # a form that is not multipart at all, and a multipart without its boundary
        for content_type, body in [
            ("multipart/form-data", multipart(("topic", b"reports", None))),
            (f"multipart/form-data; boundary={BOUNDARY}", b"--" + BOUNDARY.encode() + b"\r\nbroken"),
            ("application/json", b'{"topic": "reports"}'),
            ("application/x-www-form-urlencoded", b"topic=%FF%FE&comment=%ZZ&message=\xff"),
        ]:
            response = await client.post(
                "/api/v1/tickets",
                content=body,
                headers={**role_headers["user"], "Content-Type": content_type},
            )
            check(response, content_type)


QUERIES = {
    "tickets": ["/api/v1/tickets?topic=", "/api/v1/tickets?cursor=", "/api/v1/tickets?date="],
    "notifications": ["/api/v1/popups/stream?access_token=", "/api/v1/popups?x="],
    "kb-search": ["/api/v1/kb/search?q=", "/api/v1/kb/suggest?q=", "/api/v1/kb/search?lang=en&section="],
    "chat": ["/api/v1/chat/user?token=", "/api/v1/nothing-here?q="],
}
BAD_QUERY_VALUES = [b"%FF%FE%C3%28", b"%ED%A0%80", b"%00", b"%", b"%ZZ", b"\xff\xfe", b"a" * 60_000]


@pytest.mark.parametrize("service", sorted(QUERIES), indirect=True)
async def test_non_utf8_and_huge_query_strings_never_cost_a_5xx(
    service: Running, role_headers: Headers
) -> None:
    for target in QUERIES[service.name]:
        for value in BAD_QUERY_VALUES:
            for caller in ("user", "agent", "editor", "garbage"):
                answer = await raw_request(
                    service.port, head("GET", target.encode() + value, role_headers[caller]), timeout=10
                )
                if answer.status == 400 and not answer.content_type.startswith("application/json"):
                    # The HTTP parser refused a request line with raw non-ASCII bytes before any app
                    # saw it (uvicorn's own plain "Invalid HTTP request"): still no 5xx, no data lost.
                    assert value == b"\xff\xfe", answer
                    continue
                assert_contract(
                    answer.status, answer.body, answer.content_type, f"{caller} {target}{value[:30]!r}"
                )
        huge = target + urlencode({"pad": "z" * 200_000})
        answer = await raw_request(service.port, head("GET", huge.encode(), role_headers["user"]), timeout=10)
        assert answer.status < 500, answer


JSON_ROUTES = {
    "tickets": [
        ("POST", "/api/v1/tickets/{ticket_id}/notes", "agent"),
        ("POST", "/api/v1/tickets/{ticket_id}/status", "agent"),
        ("POST", "/api/v1/tickets/{ticket_id}/priority", "agent"),
        ("POST", "/api/v1/tickets/{ticket_id}/assignee", "agent"),
        ("POST", "/api/v1/tickets/{ticket_id}/topic", "agent"),
    ],
    "notifications": [
        ("POST", "/api/v1/messages", "agent"),
        ("POST", "/api/v1/popups/{popup_id}/snooze", "user"),  # its body is optional (default delay)
    ],
    "kb-search": [
        ("POST", "/api/v1/kb/articles", "editor"),
        ("PUT", "/api/v1/kb/articles/{article_id}", "editor"),
        ("POST", "/api/v1/kb/articles/{article_id}/feedback", "user"),
        ("POST", "/api/v1/kb/deflect", "user"),
    ],
}


@pytest.mark.parametrize("service", sorted(JSON_ROUTES), indirect=True)
async def test_json_bodies_that_are_arrays_null_garbage_or_deeply_nested_are_4xx_in_the_error_shape(
    service: Running, role_headers: Headers
) -> None:
    ids = {key: quote(value, safe="") for key, value in (await seed(service, role_headers)).items()}
    async with httpx.AsyncClient(base_url=service.url, timeout=WAIT) as client:
        for method, template, caller in JSON_ROUTES[service.name]:
            path = template.format(**ids)
            for body in JSON_BODIES + DEEP:
                for content_type in ("application/json", "text/plain", "application/json; charset=latin-1"):
                    response = await client.request(
                        method,
                        path,
                        content=body,
                        headers={**role_headers[caller], "Content-Type": content_type, "If-Match": '"1"'},
                    )
                    optional = path.endswith("/snooze") and body in (b"null", b"")
                    assert response.status_code >= 400 or optional, (path, body[:40], response.text)
                    check(response, f"{method} {path} {content_type} {body[:40]!r}")


async def test_mangled_bearer_tokens_are_401_in_the_error_shape(
    tickets: Running, notifications: Running, kb_search: Running
) -> None:
    targets = [
        (tickets, "/api/v1/tickets"),
        (notifications, "/api/v1/popups"),
        (notifications, "/api/v1/popups/stream"),
        (kb_search, "/api/v1/kb/sections"),
    ]
    values = [
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "bearer x.y.z",
        "Bearer " + "a" * 20_000,
    ]
    for service, path in targets:
        async with httpx.AsyncClient(base_url=service.url, timeout=WAIT) as client:
            for value in values:
                response = await client.get(path, headers={"Authorization": value})
                assert response.status_code in (400, 401, 431), (path, value[:20], response.text)
                check(response, f"{path} {value[:20]!r}")
            stream = await client.get(path, params={"access_token": "not.a.token"})
            check(stream, f"{path}?access_token=garbage")
        for raw in (b"Bearer ", b"Bearer \x7f\x01", b"Bearer \xff\xfe.\xc3\x28.x"):
            answer = await raw_request(
                service.port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + raw
            )
            if answer.status == 400 and not answer.content_type.startswith("application/json"):
                continue  # uvicorn's HTTP parser refused the header line itself; no app involved
            assert answer.status in (400, 401), (path, raw, answer)
            assert_contract(answer.status, answer.body, answer.content_type, f"{path} {raw!r}")


# Routes nobody serves, methods a route does not take, paths that do not decode (the kb article path
# is a catch-all `{article_id:path}`: any decodable id is a fine 404 there).
STRAY = [
    ("GET", "/api/v1/nope"),
    ("PATCH", "/api/v1/tickets"),
    ("PUT", "/api/v1/popups"),
    ("PATCH", "/api/v1/kb/sections"),
    ("GET", "/api/v1/tickets/%ZZ"),
    ("GET", "/api/v1/popups/%00"),
    ("GET", "/api/v1/kb/articles/%FF%FE"),
    ("GET", "/api/v1/tickets/" + "9" * 5000),
    ("GET", "/api/v1/chat/user"),  # chat's websocket routes, asked over plain HTTP
    ("POST", "/api/v1/chat/agent"),
    ("GET", "/api/v1/chat/user/%ZZ%00"),
    ("DELETE", "/healthz"),
]


@pytest.mark.parametrize("service", ["tickets", "notifications", "chat", "kb-search"], indirect=True)
async def test_unknown_routes_and_wrong_methods_are_4xx_in_the_error_shape(
    service: Running, role_headers: Headers
) -> None:
    async with httpx.AsyncClient(base_url=service.url, timeout=WAIT) as client:
        for method, path in STRAY:
            for caller in ("user", "agent", "none", "garbage"):
                response = await client.request(
                    method, path, headers=role_headers[caller], content=b"[" * 5000
                )
                assert 400 <= response.status_code < 500, (service.name, method, path, response.text)
                check(response, f"{service.name} {caller} {method} {path}")


async def test_chat_answers_a_broken_websocket_handshake_without_a_5xx(
    chat: Running, role_headers: Headers
) -> None:
    upgrade = await raw_request(
        chat.port,
        head(
            "GET",
            b"/api/v1/chat/user",
            role_headers["garbage"],
            "Connection: Upgrade",
            "Upgrade: websocket",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: %%%not-base64%%%",
        ),
        timeout=10,
    )
    assert upgrade.status < 500, upgrade


async def test_the_request_list_takes_the_first_and_last_days_a_date_can_hold(
    tickets: Running, role_headers: Headers
) -> None:
    # Found here: `date_to=9999-12-31` overflowed computing "the day after" and answered 500.
    async with httpx.AsyncClient(base_url=tickets.url, timeout=WAIT) as client:
        for params in (
            {"date": "9999-12-31"},
            {"date": "0001-01-01"},
            {"date_from": "0001-01-01", "date_to": "9999-12-31"},
            {"date_to": "9999-12-31"},
            {"date_from": "9999-12-31"},
            {"date": "10000-01-01"},
            {"date": "2026-02-30"},
        ):
            for caller in ("user", "agent"):
                response = await client.get("/api/v1/tickets", params=params, headers=role_headers[caller])
                check(response, f"{caller} {params}")
                assert response.status_code in (200, 422), (params, response.text)
