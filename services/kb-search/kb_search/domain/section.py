"""FAQ sections as data: editors create, rename, order and retire them; articles name one by its id.

Lifecycle: created → updated* → retired → (created again). Each change is one event on the section's
own subject, `version` counts them. A retired section is no longer offered (not listed, no article
can be published into it); the articles already in it keep its id, stay readable and searchable, and
are listed under it for editors until they are moved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from kb_search.domain.errors import (
    InvalidSection,
    SectionAlreadyExists,
    SectionNotFound,
    SectionVersionConflict,
)
from shared.contracts.kb import Language
from shared.contracts.kb_v2 import (
    MAX_SECTION_ID_LENGTH,
    MAX_SECTION_NAME_LENGTH,
    MAX_SECTION_ORDER,
    SECTION_ID_PATTERN,
)

_SECTION_ID = re.compile(SECTION_ID_PATTERN)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
LANGUAGES = tuple(lang.value for lang in Language)


def section_id_problem(section_id: str) -> str:
    """Why `section_id` cannot name a section, or "" when it can."""
    if len(section_id) > MAX_SECTION_ID_LENGTH:
        return f"longer than {MAX_SECTION_ID_LENGTH} characters"
    if not _SECTION_ID.match(section_id):
        return f"{section_id!r} is not a section id (lower-case letters and digits, words joined by '-')"
    return ""


def section_id_from(text: str) -> str:
    """A section id made from any label (what an import does with a section it does not know)."""
    return _NOT_SLUG.sub("-", text.strip().lower()).strip("-")[:MAX_SECTION_ID_LENGTH].strip("-")


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    names: Mapping[str, str]  # one per language of `LANGUAGES`
    order: int = 0

    @classmethod
    def of(cls, section_id: str, names: Mapping[str, object], order: object = 0) -> Section:
        """Validate a section given by its parts (an API body, an import)."""
        problems: list[str] = []
        if problem := section_id_problem(section_id):
            problems.append(f"id: {problem}")
        clean: dict[str, str] = {}
        for lang in LANGUAGES:
            value = names.get(lang)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"names.{lang}: required")
            elif len(value.strip()) > MAX_SECTION_NAME_LENGTH:
                problems.append(f"names.{lang}: longer than {MAX_SECTION_NAME_LENGTH} characters")
            else:
                clean[lang] = value.strip()
        unknown = sorted(set(names) - set(LANGUAGES))
        if unknown:
            problems.append(f"names: unknown language(s) {', '.join(map(str, unknown))}")
        if not isinstance(order, int) or isinstance(order, bool) or not 0 <= order <= MAX_SECTION_ORDER:
            problems.append(f"order: must be a whole number from 0 to {MAX_SECTION_ORDER}")
            order = 0
        if problems:
            raise InvalidSection(problems)
        return cls(id=section_id, names=clean, order=order)

    @classmethod
    def named_after(cls, section_id: str, *, order: int) -> Section:
        """A section an import creates: its id, readable, as its name in every language."""
        name = section_id.replace("-", " ").capitalize()
        return cls(id=section_id, names={lang: name for lang in LANGUAGES}, order=order)


class SectionChange(StrEnum):
    CREATED = "section.created"
    UPDATED = "section.updated"
    RETIRED = "section.retired"


@dataclass(frozen=True, slots=True)
class SectionState:
    """A section as its last event left it."""

    section: Section
    version: int
    retired: bool
    sequence: int = field(default=0, compare=False)  # the stream sequence of that event


def decide_create(section: Section, state: SectionState | None) -> SectionChange | None:
    """A new section (or a retired one again); the same section again: nothing to do."""
    if state is None or state.retired:
        return SectionChange.CREATED
    if state.section == section:
        return None
    raise SectionAlreadyExists(section.id)


def decide_update(
    section: Section, state: SectionState | None, *, expected_version: int | None
) -> SectionChange | None:
    if state is None or state.retired:
        raise SectionNotFound(section.id)
    if expected_version is not None and expected_version != state.version:
        raise SectionVersionConflict(section.id, expected=expected_version, actual=state.version)
    return None if state.section == section else SectionChange.UPDATED


def decide_retire(
    section_id: str, state: SectionState | None, *, expected_version: int | None
) -> SectionChange:
    if state is None or state.retired:
        raise SectionNotFound(section_id)
    if expected_version is not None and expected_version != state.version:
        raise SectionVersionConflict(section_id, expected=expected_version, actual=state.version)
    return SectionChange.RETIRED


# The sections `helpdesk migrate` creates when the stream has never had them (names as the Help
# widget showed them before sections were data): id → names in uk, ru, en, pl.
_DEFAULTS = {
    "bookings": ("Бронювання", "Бронирования", "Bookings", "Rezerwacje"),
    "rooms-and-rates": ("Номери й тарифи", "Номера и тарифы", "Rooms and rates", "Pokoje i cenniki"),
    "guests": ("Гості", "Гости", "Guests", "Goście"),
    "payments-and-fiscal": (
        "Оплати й фіскалізація", "Оплаты и фискализация", "Payments and fiscal", "Płatności i fiskalizacja"
    ),
    "reports": ("Звіти", "Отчёты", "Reports", "Raporty"),
    "users-and-rights": (
        "Користувачі й права", "Пользователи и права", "Users and rights", "Użytkownicy i uprawnienia"
    ),
    "settings": ("Налаштування", "Настройки", "Settings", "Ustawienia"),
    "integrations": ("Інтеграції", "Интеграции", "Integrations", "Integracje"),
    "channel-manager": ("Менеджер каналів", "Менеджер каналов", "Channel manager", "Channel manager"),
    "housekeeping": ("Покоївки й прибирання", "Горничные и уборка", "Housekeeping", "Housekeeping"),
}  # fmt: skip
DEFAULT_SECTIONS: tuple[Section, ...] = tuple(
    Section(id=section_id, names=dict(zip(LANGUAGES, names, strict=True)), order=(n + 1) * 10)
    for n, (section_id, names) in enumerate(_DEFAULTS.items())
)
