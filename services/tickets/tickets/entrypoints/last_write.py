"""Read-your-writes without the client passing `ticket_id` + `min_version`: a short-lived cookie.

Every command answers with `Set-Cookie: hd_last_write=<ticket id>.<version>` (10 s, the tickets path
only, HttpOnly, SameSite=Strict, Secure in production). A history read without an explicit
`min_version` that carries the cookie waits, boundedly, as if the client had passed them.

Why it stays correct with several API replicas: the token travels with the client, not in a replica's
memory, and the wait reads the one shared view (released early by the projector's notices, which
every replica hears). Why one (ticket, version) covers all of this client's earlier writes: the
relay publishes in the store's commit order and the projector applies the stream in order, so once
the view holds the last write it holds every write committed before it. Limits: two tabs writing at
once may leave the earlier of two writes in the cookie (the later one then shows as soon as the
projector reaches it, usually within milliseconds); clients that keep no cookies (scripts, other
services) still pass `min_version` explicitly — the explicit token remains the contract.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import Response

from shared.parsing import natural

COOKIE = "hd_last_write"
MAX_AGE_SECONDS = 10
PATH = "/api/v1/tickets"


_ATTRIBUTES = f"; HttpOnly; Max-Age={MAX_AGE_SECONDS}; Path={PATH}; SameSite=strict"


def remember_write(response: Response, *, ticket_id: UUID, version: int, secure: bool) -> None:
    # The header `set_cookie` would write, byte for byte, without an `http.cookies` round per command:
    # a UUID, a dot and a number need no quoting.
    header = f"{COOKIE}={ticket_id}.{int(version)}{_ATTRIBUTES}{'; Secure' if secure else ''}"
    response.raw_headers.append((b"set-cookie", header.encode("latin-1")))


def forget_write(response: Response, *, secure: bool) -> None:
    """The view has caught up with the cookie's write: later reads need not check it again."""
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict", secure=secure)


def last_write(value: str | None) -> tuple[str, int] | None:
    """The cookie's (ticket id, version); None when absent or not well-formed (it is only a hint)."""
    if not value or len(value) > 64:
        return None
    ticket, _, version = value.partition(".")
    number = natural(version)
    if number is None:
        return None
    try:
        return str(UUID(ticket)), number
    except ValueError:
        return None
