"""The editors' section commands (create, rename and reorder, retire), the check that an article names
a live section, and the section list readers see. Each write reads the section's last event and
appends one event guarded by the sequence it read, like articles."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kb_search.application.ports import Origin, SectionEvent, SectionLog
from kb_search.domain.errors import SectionNotFound, SectionVersionConflict, UnknownSection
from kb_search.domain.section import (
    DEFAULT_SECTIONS,
    Section,
    SectionChange,
    SectionState,
    decide_create,
    decide_retire,
    decide_update,
)
from shared.contracts.envelope import Actor

# How long a replica reuses the section list it read (its own writes drop it at once).
LIST_TTL_SECONDS = 1.0
CREATE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class SectionWritten:
    section_id: str
    version: int
    sequence: int
    changed: bool


class SectionCommands:
    def __init__(self, log: SectionLog, *, list_ttl: float = LIST_TTL_SECONDS) -> None:
        self._log = log
        self._ttl = list_ttl
        self._listed: tuple[float, list[SectionState]] | None = None

    async def create(
        self, section: Section, *, actor: Actor, correlation_id: str | None = None
    ) -> SectionWritten:
        state = await self._log.state(section.id)
        change = decide_create(section, state)
        return await self._write(section, change, state, actor, correlation_id)

    async def update(
        self,
        section: Section,
        *,
        actor: Actor,
        expected_version: int | None = None,
        correlation_id: str | None = None,
    ) -> SectionWritten:
        state = await self._log.state(section.id)
        change = decide_update(section, state, expected_version=expected_version)
        return await self._write(section, change, state, actor, correlation_id)

    async def retire(
        self,
        section_id: str,
        *,
        actor: Actor,
        expected_version: int | None = None,
        correlation_id: str | None = None,
    ) -> SectionWritten:
        state = await self._log.state(section_id)
        change = decide_retire(section_id, state, expected_version=expected_version)
        assert state is not None
        return await self._write(state.section, change, state, actor, correlation_id)

    async def live(self, section_id: str) -> SectionState:
        """A live section; `SectionNotFound` when it never was or is retired."""
        state = await self._log.state(section_id)
        if state is None or state.retired:
            raise SectionNotFound(section_id)
        return state

    async def check_live(self, section_id: str) -> SectionState:
        """The live section an article names; `UnknownSection` when it never was or is retired."""
        state = await self._log.state(section_id)
        if state is None or state.retired:
            raise UnknownSection(section_id)
        return state

    async def ensure(self, section_id: str, *, actor: Actor) -> bool:
        """Make `section_id` a live section (what an import does with one it does not know): a
        retired one comes back as it was, a new one is named after its id. True when created."""
        for attempt in range(CREATE_ATTEMPTS):
            state = await self._log.state(section_id)
            if state is not None and not state.retired:
                return False
            if state is not None:
                section = state.section
            else:
                highest = max((s.section.order for s in await self.all()), default=0)
                section = Section.named_after(section_id, order=highest + 10)
            try:
                await self._write(section, SectionChange.CREATED, state, actor, None)
            except SectionVersionConflict:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                continue
            return True
        raise AssertionError("unreachable")  # pragma: no cover

    async def ensure_defaults(self, *, actor: Actor) -> list[str]:
        """Create the default sections that have never existed (a retired one stays retired)."""
        created = []
        for section in DEFAULT_SECTIONS:
            if await self._log.state(section.id) is not None:
                continue
            try:
                await self._write(section, SectionChange.CREATED, None, actor, None)
            except SectionVersionConflict:
                continue  # created at the same time by another migration: the same thing
            created.append(section.id)
        return created

    async def all(self) -> list[SectionState]:
        """Every section ever created, live and retired, by order then id (reused for a moment)."""
        now = time.monotonic()
        if self._listed is not None and now - self._listed[0] < self._ttl:
            return self._listed[1]
        found = sorted(await self._log.all(), key=lambda s: (s.section.order, s.section.id))
        self._listed = (now, found)
        return found

    async def _write(
        self,
        section: Section,
        change: SectionChange | None,
        state: SectionState | None,
        actor: Actor,
        correlation_id: str | None,
    ) -> SectionWritten:
        if change is None:
            assert state is not None
            return SectionWritten(section.id, state.version, state.sequence, False)
        version = (state.version if state else 0) + 1
        appended = await self._log.append(
            SectionEvent(change.value, section, version, expected=state, origin=Origin(actor, correlation_id))
        )
        self._listed = None
        return SectionWritten(section.id, version, appended.sequence, not appended.duplicate)
