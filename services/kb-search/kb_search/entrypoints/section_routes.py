"""Sections: listed for every signed-in user; created, changed and retired by editors (role `editor`
or `agent`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from kb_search.domain.section import Section, SectionState
from kb_search.entrypoints.deps import Author, Editing, Kb, Reading, SectionPath
from kb_search.entrypoints.schemas import SectionIn, SectionOut, SectionsOut, SectionUpdateIn, SectionWriteOut

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"])


@router.get("/sections", response_model=SectionsOut)
async def sections(
    kb: Reading,
    include_retired: Annotated[
        bool, Query(description="Also retired sections (whose articles wait to be moved).")
    ] = False,
) -> SectionsOut:
    """The sections by order, with their names in every language and live article counts."""
    found = await kb.sections.all()
    counts = kb.index.sections()
    return SectionsOut(
        sections=[
            _section_out(s, counts.get(s.section.id, {})) for s in found if include_retired or not s.retired
        ]
    )


@router.post("/sections", response_model=SectionWriteOut, status_code=status.HTTP_201_CREATED)
async def create_section(body: SectionIn, author: Author, kb: Kb, response: Response) -> SectionWriteOut:
    order = body.order
    if order is None:  # where it was (a live or retired one), else after every other
        known = {s.section.id: s.section.order for s in await kb.sections.all()}
        order = known.get(body.id, max(known.values(), default=0) + 10)
    section = Section.of(body.id, body.names.model_dump(), order)
    written = await kb.sections.create(section, **author)
    if not written.changed:
        response.status_code = status.HTTP_200_OK
    return SectionWriteOut(id=written.section_id, version=written.version, changed=written.changed)


@router.put("/sections/{section_id}", response_model=SectionWriteOut)
async def update_section(
    section_id: SectionPath, body: SectionUpdateIn, edit: Editing, kb: Kb
) -> SectionWriteOut:
    current = await kb.sections.live(section_id)
    names = body.names.model_dump() if body.names else dict(current.section.names)
    order = current.section.order if body.order is None else body.order
    written = await kb.sections.update(Section.of(section_id, names, order), **edit.based_on())
    return SectionWriteOut(id=written.section_id, version=written.version, changed=written.changed)


@router.delete("/sections/{section_id}", response_model=SectionWriteOut)
async def retire_section(section_id: SectionPath, edit: Editing, kb: Kb) -> SectionWriteOut:
    """Retire a section: it is no longer listed or offered; its articles keep its id, stay
    searchable and are listed under it (`GET /articles?section=`) until they are moved."""
    written = await kb.sections.retire(section_id, **edit.based_on())
    return SectionWriteOut(id=written.section_id, version=written.version, changed=written.changed)


def _section_out(state: SectionState, counts: dict[str, int]) -> SectionOut:
    section = state.section
    return SectionOut(
        id=section.id,
        section=section.id,
        names=dict(section.names),
        order=section.order,
        version=state.version,
        retired=state.retired,
        total=sum(counts.values()),
        by_language=counts,
    )
