from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kb_search.domain.article import Article
from kb_search.search.analysis import Analyzer
from kb_search.search.crosslang import CrossLanguage, Glossary
from kb_search.search.index import SearchIndex

GLOSSARY = [
    {
        "en": "invoice",
        "uk": ["рахунок-фактура", "інвойс"],
        "ru": ["счет-фактура", "инвойс"],
        "pl": ["faktura"],
    },
    {"en": "night audit", "uk": ["нічний аудит"], "ru": ["ночной аудит"], "pl": ["audyt nocny"]},
    {
        "en": "channel manager",
        "uk": ["менеджер каналів"],
        "ru": ["менеджер каналов"],
        "pl": ["menedżer kanałów"],
    },
]

ARTICLES: list[dict[str, Any]] = [
    {"id": "kb:booking-uk", "lang": "uk", "section": "bookings", "title": "Як створити бронювання",
     "body": "Щоб створити нове **бронювання**, відкрийте шахматку і виберіть вільний номер.",
     "translations": ["kb:booking-ru", "kb:booking-en"]},
    {"id": "kb:booking-ru", "lang": "ru", "section": "bookings", "title": "Как создать бронирование",
     "body": "Чтобы создать новое бронирование, откройте шахматку и выберите свободный номер."},
    {"id": "kb:booking-en", "lang": "en", "section": "bookings", "title": "How to create a booking",
     "body": "To create a new booking, open the room grid and pick a free room.",
     "translations": ["kb:booking-uk"]},
    {"id": "kb:invoice-en", "lang": "en", "section": "payments-and-fiscal", "title": "Issuing an invoice",
     "body": "An invoice is issued from the guest folio. Print the invoice or send it by e-mail."},
    {"id": "kb:audit-en", "lang": "en", "section": "reports", "title": "Night audit",
     "body": "The night audit closes the business day and posts the room charges."},
    {"id": "kb:payments-pl", "lang": "pl", "section": "payments-and-fiscal", "title": "Płatności za pokoje",
     "body": "Rejestracja płatności gościa w rezerwacji. Płatność można podzielić."},
    {"id": "kb:occupancy-ru", "lang": "ru", "section": "reports", "title": "Отчёт о загрузке номеров",
     "body": "Отчёты о загрузке номеров за выбранный период, по типам номеров."},
    {"id": "kb:cleaning-uk", "lang": "uk", "section": "housekeeping", "title": "Статус прибирання номерів",
     "body": "Покоївка позначає номер як прибраний у модулі прибирання. Звіт покоївки друкується щодня."},
    {"id": "kb:guest-uk", "lang": "uk", "section": "guests", "title": "Картка гостя",
     "body": "У картці гостя зберігаються паспортні дані, телефон і історія проживання. Об'єднання карток."},
]  # fmt: skip


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="session")
def glossary(analyzer: Analyzer) -> Glossary:
    return Glossary.from_entries(GLOSSARY, analyzer)


@pytest.fixture
def make_index(analyzer: Analyzer, glossary: Glossary) -> Callable[..., SearchIndex]:
    def factory(
        articles: list[dict[str, Any]] | None = None,
        *,
        cross_language: CrossLanguage = CrossLanguage.GLOSSARY,
        cache_size: int = 0,
    ) -> SearchIndex:
        index = SearchIndex(
            analyzer=analyzer, glossary=glossary, cross_language=cross_language, cache_size=cache_size
        )
        for raw in ARTICLES if articles is None else articles:
            index.upsert(Article.from_mapping(raw), version=1)
        return index

    return factory


@pytest.fixture
def index(make_index: Callable[..., SearchIndex]) -> SearchIndex:
    return make_index()
