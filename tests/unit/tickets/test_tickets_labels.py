"""Status labels in every language the product speaks, and topic names from the settings."""

from __future__ import annotations

from tickets.adapters.topic_names import SettingsTopicNames
from tickets.application.labels import Language, status_label
from tickets.domain.values import Status
from tickets.settings import DEFAULT_TOPICS


def test_every_status_has_a_label_in_every_language_distinct_within_it() -> None:
    for lang in Language:
        labels = [status_label(s.value, lang) for s in Status]
        assert all(label.strip() for label in labels)
        assert len(set(labels)) == len(labels), lang


def test_support_reads_who_a_request_waits_for_and_the_hotel_user_reads_that_it_waits_for_them() -> None:
    assert status_label("waiting_for_user", Language.EN) == "Waiting for your reply"
    assert status_label("waiting_for_user", Language.EN, for_support=True) == "Waiting for the hotel"
    assert status_label("new", Language.UK, for_support=True) == status_label("new", Language.UK)


def test_a_topic_s_name_comes_from_the_settings_and_an_unknown_one_is_its_id() -> None:
    names = SettingsTopicNames(DEFAULT_TOPICS)
    assert names.name("payments", Language.PL) == DEFAULT_TOPICS["payments"]
    assert names.name("retired-topic", Language.EN) == "retired-topic"
