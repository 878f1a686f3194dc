"""What the request list and a request show as words, in the caller's language (uk, ru, en, pl).

Statuses are the lifecycle's and their labels live here. Topic names belong to whoever manages the
topics: the application asks a `TopicNames` port, so their source can change without the views.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from tickets.domain.values import Status


class Language(StrEnum):
    UK = "uk"
    RU = "ru"
    EN = "en"
    PL = "pl"


DEFAULT_LANGUAGE = Language.EN


class TopicNames(Protocol):
    def name(self, topic_id: str, lang: Language) -> str:
        """The topic's name in `lang` (the id itself for a topic no longer offered)."""
        ...


# The hotel user reads "waiting for your reply"; support reads who it is waiting for.
_STATUS_LABELS: dict[Language, dict[Status, str]] = {
    Language.UK: {
        Status.NEW: "Нове",
        Status.IN_PROGRESS: "В роботі",
        Status.WAITING_FOR_USER: "Чекає на вашу відповідь",
        Status.RESOLVED: "Вирішено",
        Status.CLOSED: "Закрито",
    },
    Language.RU: {
        Status.NEW: "Новая",
        Status.IN_PROGRESS: "В работе",
        Status.WAITING_FOR_USER: "Ждёт вашего ответа",
        Status.RESOLVED: "Решена",
        Status.CLOSED: "Закрыта",
    },
    Language.EN: {
        Status.NEW: "New",
        Status.IN_PROGRESS: "In progress",
        Status.WAITING_FOR_USER: "Waiting for your reply",
        Status.RESOLVED: "Resolved",
        Status.CLOSED: "Closed",
    },
    Language.PL: {
        Status.NEW: "Nowe",
        Status.IN_PROGRESS: "W realizacji",
        Status.WAITING_FOR_USER: "Czeka na Twoją odpowiedź",
        Status.RESOLVED: "Rozwiązane",
        Status.CLOSED: "Zamknięte",
    },
}
_WAITING_FOR_HOTEL: dict[Language, str] = {
    Language.UK: "Чекає на відповідь готелю",
    Language.RU: "Ждёт ответа отеля",
    Language.EN: "Waiting for the hotel",
    Language.PL: "Czeka na odpowiedź hotelu",
}


def status_label(status: str, lang: Language, *, for_support: bool = False) -> str:
    """The status's label in `lang`, worded for the hotel user or, with `for_support`, for support."""
    value = Status(status)
    if for_support and value is Status.WAITING_FOR_USER:
        return _WAITING_FOR_HOTEL[lang]
    return _STATUS_LABELS[lang][value]
