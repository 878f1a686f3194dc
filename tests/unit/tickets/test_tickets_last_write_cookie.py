"""The read-your-writes cookie is written as Starlette's `set_cookie` would write it."""

from __future__ import annotations

from uuid import UUID

import pytest
from fastapi import Response

from tickets.entrypoints.last_write import COOKIE, MAX_AGE_SECONDS, PATH, remember_write


@pytest.mark.parametrize("secure", [False, True])
def test_the_cookie_header_is_the_one_set_cookie_writes(secure: bool) -> None:
    ticket = UUID("0b5e8a8e-7d53-4a43-9f5c-2f4c1f0e9a11")
    expected = Response()
    expected.set_cookie(
        COOKIE,
        f"{ticket}.12",
        max_age=MAX_AGE_SECONDS,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    written = Response()
    remember_write(written, ticket_id=ticket, version=12, secure=secure)
    assert written.headers.getlist("set-cookie") == expected.headers.getlist("set-cookie")
