"""Turning a chat into a request: `POST {tickets_url}/api/v1/tickets` on the user's behalf."""

from __future__ import annotations

from typing import Any

import httpx

from chat.domain.conversation import TicketDraft
from shared.logging import get_logger

log = get_logger(__name__)


class TicketsUnavailable(Exception):
    """Raised when the tickets service did not accept the request (down, refused, or an error)."""

    def __init__(self, status: int | None) -> None:
        self.status = status
        super().__init__(f"tickets service answered {status}")


class TicketsClient:
    """A thin client of the tickets API; multipart form, the user's own bearer token."""

    def __init__(self, client: httpx.AsyncClient, *, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/api/v1/tickets"

    async def create(self, draft: TicketDraft, *, token: str, idempotency_key: str) -> str:
        """The new request's number."""
        # `files` with (None, value) parts makes httpx send multipart/form-data, as the API expects.
        parts = {name: (None, value) for name, value in draft.as_form().items()}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key}
        try:
            response = await self._client.post(self._url, files=parts, headers=headers)
        except httpx.HTTPError:
            log.warning("tickets_unreachable")
            raise TicketsUnavailable(None) from None
        if response.status_code >= 300:
            log.warning("tickets_refused", status=response.status_code)
            raise TicketsUnavailable(response.status_code)
        return _ticket_number(response.json())


def _ticket_number(body: Any) -> str:
    if isinstance(body, dict):
        for candidate in (body, body.get("ticket"), body.get("data")):
            if isinstance(candidate, dict):
                number = candidate.get("number") or candidate.get("ticket_number")
                if number:
                    return str(number)
    raise TicketsUnavailable(201)
