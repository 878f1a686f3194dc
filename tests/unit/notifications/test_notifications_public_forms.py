"""Every popup event this service stores is either published, by its class, or declared private; the
service refuses to start when one is neither, so a new event cannot go unpublished by oversight."""

from __future__ import annotations

import pytest
from eventsourcing.domain import Aggregate

from notifications.application import public
from notifications.application.public import (
    PRIVATE,
    PUBLIC,
    UnmappedEvent,
    check_public_forms,
    event_type,
    recorded_events,
)
from notifications.bootstrap import create_app, load_settings
from notifications.domain.lifecycle import Lifecycle
from notifications.domain.model import Popup, TicketRequester
from notifications.domain.recipient import RecipientState

pytestmark = pytest.mark.unit


def test_every_stored_event_class_has_a_public_form_or_is_declared_private() -> None:
    check_public_forms()
    assert set(recorded_events(Popup)) == {
        Popup.Raised,
        Popup.Delivered,
        Popup.Snoozed,
        Popup.DueAgain,
        Popup.Opened,
        Popup.Deleted,
    }
    assert set(recorded_events(TicketRequester)) == {TicketRequester.Remembered}


def test_a_popups_change_and_one_users_own_change_have_the_same_public_type() -> None:
    snoozed_types = {event_type(cls.__new__(cls)) for cls in (Popup.Snoozed, RecipientState.Snoozed)}
    assert snoozed_types == {"popup.snoozed"}
    assert event_type(RecipientState.Started.__new__(RecipientState.Started)) is None
    assert Popup.Snoozed is not RecipientState.Snoozed  # each stored under its own topic


def test_a_stored_event_without_a_public_form_refuses_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    unmapped = {cls: type_ for cls, type_ in PUBLIC.items() if cls is not Lifecycle.Opened}
    monkeypatch.setattr(public, "PUBLIC", unmapped)
    with pytest.raises(UnmappedEvent, match=r"Popup\.Opened, RecipientState\.Opened"):
        check_public_forms()
    with pytest.raises(UnmappedEvent):
        create_app(load_settings())


def test_an_event_declared_private_needs_no_public_form(monkeypatch: pytest.MonkeyPatch) -> None:
    private: dict[type[Aggregate.Event], str] = {**PRIVATE, Lifecycle.Opened: "not shown to anyone"}
    monkeypatch.setattr(public, "PRIVATE", private)
    monkeypatch.setattr(public, "PUBLIC", {c: t for c, t in PUBLIC.items() if c is not Lifecycle.Opened})
    check_public_forms()
