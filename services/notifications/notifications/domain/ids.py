"""Deterministic ids: the same source always names the same popup, so a replay creates nothing new."""

from __future__ import annotations

from uuid import UUID, uuid5

# A fixed namespace of this service; changing it would make old events raise new popups on replay.
NAMESPACE = UUID("5f0c6a52-6d0e-4c8e-9f57-5a3d1f0b9e21")


def popup_id_for_ticket_event(event_id: UUID) -> UUID:
    """The popup a ticket event raises (support's reply)."""
    return uuid5(NAMESPACE, f"ticket-event:{event_id}")


def popup_id_for_message(*, sender: str, idempotency_key: str) -> UUID:
    """The popup an agent's direct message raises, repeatable with the same `Idempotency-Key`."""
    return uuid5(NAMESPACE, f"message:{sender}:{idempotency_key}")


def requester_id(ticket_id: UUID) -> UUID:
    """The `TicketRequester` record of a ticket."""
    return uuid5(NAMESPACE, f"ticket-requester:{ticket_id}")


def public_event_id(popup_id: UUID, version: int) -> UUID:
    """The stable public id (and `Nats-Msg-Id`) of one stored popup event."""
    return uuid5(NAMESPACE, f"popup-event:{popup_id}:{version}")


def recipient_state_id(popup_id: UUID, user_id: str) -> UUID:
    """One user's own state of a popup sent to their whole account (`RecipientState`)."""
    return uuid5(NAMESPACE, f"recipient-state:{popup_id}:{user_id}")
