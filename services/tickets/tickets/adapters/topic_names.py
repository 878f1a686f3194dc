"""Topic names from the service's settings (`HELPDESK_TICKETS_TOPICS`): one label per topic, the same
in every language, until the topics are managed with a name per language."""

from __future__ import annotations

from collections.abc import Mapping

from tickets.application.labels import Language


class SettingsTopicNames:
    """`TopicNames` read from the configured topic list."""

    def __init__(self, topics: Mapping[str, str]) -> None:
        self._topics = dict(topics)

    def name(self, topic_id: str, lang: Language) -> str:
        return self._topics.get(topic_id, topic_id)
