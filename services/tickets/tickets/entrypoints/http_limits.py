"""What the HTTP edge (`shared/edge.py`) needs to know of the tickets routes: which answer without a
token, and which bodies may be larger than the default JSON cap. Checked before a body byte is read.
"""

from __future__ import annotations

from shared.edge import BodyLimit, RouteRule
from tickets.settings import TicketsSettings

# No bearer token: the development sign-in (mounted in development only; elsewhere it answers 404).
PUBLIC_ROUTES = (
    RouteRule("POST", "/api/v1/dev/token"),
    # Support's contacts and hours: for anyone, signed in or not (the gateway's /support/ page too).
    RouteRule("GET", "/api/v1/support/directory"),
)

NOTE_BYTES = 128 * 1024  # 10 000 characters even when every one is sent as a `\uXXXX` escape


def body_limits(settings: TicketsSettings) -> list[BodyLimit]:
    """Forms with a file take the attachment cap plus the form's text fields; internal notes their text."""
    uploads = settings.max_upload_bytes
    return [
        BodyLimit(RouteRule("POST", "/api/v1/tickets"), uploads),
        BodyLimit(RouteRule("POST", "/api/v1/tickets/{ticket_id}/replies"), uploads),
        BodyLimit(RouteRule("POST", "/api/v1/tickets/{ticket_id}/notes"), NOTE_BYTES),
    ]
