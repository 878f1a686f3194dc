"""Prometheus metrics of the notifications service (served on `/metrics` by `shared.health`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STORE_HEAD = Gauge("helpdesk_notifications_store_position", "Newest position of the popup store's log")
VIEW_POSITION = Gauge(
    "helpdesk_notifications_active_view_position", "Log position the active-popups view has applied"
)
HISTORY_VIEW_POSITION = Gauge(
    "helpdesk_notifications_history_view_position", "Log position the popup-history view has applied"
)
RELAY_POSITION = Gauge(
    "helpdesk_notifications_relay_position", "Log position of the last popup event published to JetStream"
)
SSE_STREAMS = Gauge("helpdesk_notifications_sse_streams", "Open SSE streams in this process")
TICKET_EVENTS = Counter(
    "helpdesk_notifications_ticket_events_total", "Ticket events consumed, by outcome", ["outcome"]
)
