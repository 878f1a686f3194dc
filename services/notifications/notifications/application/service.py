"""Commands on popups. Blocking (eventsourcing is synchronous): async callers run them in a thread."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from notifications.application.store import PopupStore, WrongAggregate
from notifications.domain.clock import Clock
from notifications.domain.errors import PopupNotFound, RequesterNotSeenYet
from notifications.domain.ids import popup_id_for_ticket_event, requester_id
from notifications.domain.lifecycle import Cause, Lifecycle
from notifications.domain.model import Popup, TicketRequester
from notifications.domain.recipient import RecipientState, SeenPopup
from shared.contracts.envelope import ActorKind, EventEnvelope
from shared.contracts.popups import PopupKind
from shared.contracts.tickets import TicketCreated, TicketEventData, TicketReplied

# Two tabs acting on one popup at the same moment: the loser re-reads and re-decides this many times.
_ATTEMPTS = 3


class ConcurrentChange(Exception):
    """Raised when a popup kept changing under a command after every retry."""


@dataclass(frozen=True)
class Recipient:
    """The hotel user acting on their own popups."""

    account_id: str
    user_id: str
    name: str = ""

    def cause(self, correlation_id: str | None) -> Cause:
        return Cause(
            actor_kind=ActorKind.USER.value,
            actor_id=self.user_id,
            actor_name=self.name,
            correlation_id=correlation_id,
            causation_id=None,
        )


SYSTEM_CAUSE = Cause(
    actor_kind=ActorKind.SYSTEM.value,
    actor_id="notifications",
    actor_name="OtelMS Helpdesk",
    correlation_id=None,
    causation_id=None,
)


@dataclass(frozen=True)
class NewMessage:
    """An agent's message straight to one user or to a whole account (`user_id is None`)."""

    popup_id: UUID
    account_id: str
    user_id: str | None
    title: str
    text: str
    ticket_id: UUID | None
    ticket_number: str | None
    # Of the request, when it came with an `Idempotency-Key` (`shared.idempotency.fingerprint`).
    fingerprint: str | None = None


class PopupService:
    def __init__(
        self,
        store: PopupStore,
        *,
        clock: Clock,
        default_snooze: timedelta,
        longest_snooze: timedelta,
        max_text: int,
    ) -> None:
        self.store = store
        self.clock = clock
        self.default_snooze = default_snooze
        self.longest_snooze = longest_snooze
        self.max_text = max_text

    # --- the recipient's actions ---------------------------------------------------------------

    def get(self, popup_id: UUID, *, by: Recipient) -> SeenPopup:
        """The popup as `by` sees it, if it is addressed to them; otherwise as if it did not exist."""
        popup = self._addressed(popup_id, by)
        own = self.store.recipient_state(popup_id, by.user_id) if popup.user_id is None else None
        return SeenPopup(popup, own)

    def _addressed(self, popup_id: UUID, by: Recipient) -> Popup:
        try:
            popup = self.store.popup(popup_id)
        except (AggregateNotFoundError, WrongAggregate):
            raise PopupNotFound(popup_id) from None
        if not popup.is_addressed_to(account_id=by.account_id, user_id=by.user_id):
            raise PopupNotFound(popup_id)
        return popup

    def mark_delivered(
        self, popup_id: UUID, *, by: Recipient, correlation_id: str | None = None
    ) -> SeenPopup:
        cause = by.cause(correlation_id)
        return self._act(popup_id, by, cause, lambda p, now: p.mark_delivered(at=now, cause=cause))

    def snooze(
        self,
        popup_id: UUID,
        *,
        by: Recipient,
        until: datetime | None = None,
        correlation_id: str | None = None,
    ) -> SeenPopup:
        """ "Remind later": until the chosen time, or after the default delay."""
        cause = by.cause(correlation_id)

        def apply(popup: Lifecycle, now: datetime) -> None:
            end = until if until is not None else now + self.default_snooze
            popup.snooze(until=end, at=now, longest=self.longest_snooze, cause=cause)

        return self._act(popup_id, by, cause, apply)

    def open(self, popup_id: UUID, *, by: Recipient, correlation_id: str | None = None) -> SeenPopup:
        cause = by.cause(correlation_id)
        return self._act(popup_id, by, cause, lambda p, now: p.open(at=now, cause=cause))

    def delete(self, popup_id: UUID, *, by: Recipient, correlation_id: str | None = None) -> SeenPopup:
        cause = by.cause(correlation_id)
        return self._act(popup_id, by, cause, lambda p, now: p.delete(at=now, cause=cause))

    def _act(
        self, popup_id: UUID, by: Recipient, cause: Cause, apply: Callable[[Lifecycle, datetime], None]
    ) -> SeenPopup:
        """Apply a recipient's action: to the popup itself when it is theirs alone, else to their own
        state of it (started by their first action), so nobody else's screens change."""
        for _ in range(_ATTEMPTS):
            seen, now = self.get(popup_id, by=by), self.clock.now()
            target: Popup | RecipientState
            if seen.popup.user_id is not None:
                target = seen.popup
            else:
                target = seen.own or RecipientState.start(seen.popup, user_id=by.user_id, at=now, cause=cause)
            apply(target, now)
            try:
                self.store.save(target)
            except IntegrityError:
                continue
            return SeenPopup(seen.popup, target if isinstance(target, RecipientState) else None)
        raise ConcurrentChange(popup_id)

    # --- the system's actions ------------------------------------------------------------------

    def end_snooze_if_due(self, popup_id: UUID, user_id: str | None = None) -> bool:
        """Record "due again" for a snooze whose time has come (of the popup, or of `user_id`'s own
        state of it); another replica doing it first is fine."""
        target: Popup | RecipientState | None
        try:
            target = (
                self.store.popup(popup_id)
                if user_id is None
                else self.store.recipient_state(popup_id, user_id)
            )
        except (AggregateNotFoundError, WrongAggregate):
            return False
        if target is None or not target.end_snooze_if_due(at=self.clock.now(), cause=SYSTEM_CAUSE):
            return False
        try:
            self.store.save(target)
        except IntegrityError:
            return False
        return True

    # --- raising popups ------------------------------------------------------------------------

    def send_message(self, message: NewMessage, *, cause: Cause) -> Popup:
        """Raise a popup for an agent's message; the same `popup_id` again returns the first one, unless
        it was raised for a different request (`IdempotencyKeyReused`)."""
        return self._raise(
            popup_id=message.popup_id,
            account_id=message.account_id,
            user_id=message.user_id,
            kind=PopupKind.MESSAGE,
            title=message.title,
            text=message.text,
            ticket_id=message.ticket_id,
            ticket_number=message.ticket_number,
            source_event_id=None,
            cause=cause,
            fingerprint=message.fingerprint,
        )

    def handle_ticket_event(
        self, envelope: EventEnvelope[TicketEventData], *, account_fallback: bool = True
    ) -> UUID | None:
        """Remember who opened a ticket; raise a popup for support's public reply. Idempotent.

        Returns the id of the popup the event raised (or raised before, on a redelivery). Without
        `account_fallback`, a reply whose requester is not known yet raises `RequesterNotSeenYet`
        instead of going to the whole account.
        """
        data = envelope.data
        if isinstance(data, TicketCreated):
            self._remember_requester(envelope)
            return None
        if isinstance(data, TicketReplied) and data.author_role == "agent":
            if not account_fallback and self._is_new(envelope) and self._requester_unknown(envelope):
                raise RequesterNotSeenYet(envelope.aggregate_id)
            return self._raise_for_reply(envelope, data).id
        # Internal notes, the user's own replies and every other change raise nothing.
        return None

    def _remember_requester(self, envelope: EventEnvelope[TicketEventData]) -> None:
        user_id = envelope.actor.id if envelope.actor.kind is ActorKind.USER else None
        record = TicketRequester(
            ticket_id=envelope.aggregate_id, account_id=envelope.account_id, user_id=user_id
        )
        with contextlib.suppress(IntegrityError):  # remembered by an earlier delivery of the same event
            self.store.save(record)

    def _is_new(self, envelope: EventEnvelope[TicketEventData]) -> bool:
        """No popup was raised for this event yet (a redelivery after the effect must not wait)."""
        try:
            self.store.repository.get(popup_id_for_ticket_event(envelope.event_id))
        except AggregateNotFoundError:
            return True
        return False

    def _requester_unknown(self, envelope: EventEnvelope[TicketEventData]) -> bool:
        try:
            self.store.repository.get(requester_id(envelope.aggregate_id))
        except AggregateNotFoundError:
            return True
        return False

    def requester_of(self, ticket_id: UUID, *, account_id: str) -> str | None:
        """The user who opened the ticket, if this service saw it being opened (same account only)."""
        try:
            record: object = self.store.repository.get(requester_id(ticket_id))
        except AggregateNotFoundError:
            return None
        if not isinstance(record, TicketRequester) or record.account_id != account_id:
            return None
        return record.user_id

    def _raise_for_reply(self, envelope: EventEnvelope[TicketEventData], data: TicketReplied) -> Popup:
        # The reply is for the user who opened the request; when this service never saw it opened
        # (created before it was deployed, or by an agent on the user's behalf), every user of the
        # account sees it rather than nobody.
        user_id = self.requester_of(envelope.aggregate_id, account_id=envelope.account_id)
        number = envelope.ticket_number
        return self._raise(
            popup_id=popup_id_for_ticket_event(envelope.event_id),
            account_id=envelope.account_id,
            user_id=user_id,
            kind=PopupKind.TICKET_REPLY,
            title=(f"Support replied to {number}" if number else "Support replied")[:200],
            text=data.text,
            ticket_id=envelope.aggregate_id,
            ticket_number=number,
            source_event_id=envelope.event_id,
            cause=Cause(
                actor_kind=envelope.actor.kind.value,
                actor_id=envelope.actor.id,
                actor_name=envelope.actor.name,
                correlation_id=envelope.correlation_id,
                causation_id=str(envelope.event_id),
            ),
        )

    def _raise(
        self,
        *,
        popup_id: UUID,
        account_id: str,
        user_id: str | None,
        kind: PopupKind,
        title: str,
        text: str,
        ticket_id: UUID | None,
        ticket_number: str | None,
        source_event_id: UUID | None,
        cause: Cause,
        fingerprint: str | None = None,
    ) -> Popup:
        if len(text) > self.max_text:
            text = text[: self.max_text - 1] + "…"  # "view fully" shows the whole reply
        popup = Popup(
            popup_id=popup_id,
            account_id=account_id,
            user_id=user_id,
            kind=kind.value,
            title=title,
            text=text,
            ticket_id=ticket_id,
            ticket_number=ticket_number,
            source_event_id=source_event_id,
            at=self.clock.now(),
            cause=cause,
            fingerprint=fingerprint,
        )
        try:
            self.store.save(popup)
        except IntegrityError:
            # Raised already (a redelivery, a replay, a crash between effect and ack): nothing new.
            existing = self.store.popup(popup_id)
            existing.check_same_request(fingerprint)
            return existing
        return popup
