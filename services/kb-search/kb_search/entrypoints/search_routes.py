"""Search, suggest and deflect, for every signed-in user.

Search and deflect go through `SearchIndex.search_async`: a query that needs the embedding model is
embedded in a worker thread, so the event loop never waits for the model. Suggest is lexical only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kb_search.entrypoints.deps import Lang, QueryText, Reading, SectionParam
from kb_search.entrypoints.schemas import DeflectIn, DeflectOut, HitOut, SearchOut, SuggestOut
from shared.ratebudgets import Action
from shared.ratelimit import limited

DEFLECT_LIMIT = 3

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"])


@router.get("/search", response_model=SearchOut, dependencies=[limited(Action.FAQ)])
async def search(
    kb: Reading,
    q: QueryText,
    lang: Lang = None,
    section: Annotated[SectionParam | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchOut:
    result = await kb.index.search_async(
        q, lang=lang.value if lang else "", section=section or "", limit=limit
    )
    return SearchOut(
        query=q,
        total=result.total,
        hits=[HitOut.of(h) for h in result.hits],
        facets=result.facets,
        corrections=result.corrections,
    )


@router.get("/suggest", response_model=SuggestOut, dependencies=[limited(Action.FAQ)])
async def suggest(
    kb: Reading,
    q: QueryText,
    lang: Lang = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> SuggestOut:
    # Lexical only: a keystroke never waits for (or pays for) the model; Enter searches in full.
    result = kb.index.search(q, lang=lang.value if lang else "", limit=limit, prefix=True, dense=False)
    return SuggestOut(
        query=q, suggestions=[HitOut.of(h) for h in result.hits], completions=list(result.completions)
    )


@router.post("/deflect", response_model=DeflectOut, dependencies=[limited(Action.FAQ)])
async def deflect(kb: Reading, body: DeflectIn) -> DeflectOut:
    topic_section = body.topic.strip().lower().replace(" ", "-")
    live = {s.section.id for s in await kb.sections.all() if not s.retired}
    boost = topic_section if topic_section in live else ""
    result = await kb.index.search_async(
        f"{body.topic} {body.text}",
        lang=body.lang.value if body.lang else "",
        limit=DEFLECT_LIMIT,
        prefix=False,
        boost_section=boost,
    )
    return DeflectOut(articles=[HitOut.of(h) for h in result.hits])
