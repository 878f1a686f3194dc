"""Articles: browsed, read and given feedback by every signed-in user; published, updated and retired
by editors (role `editor` or `agent`), each write answering once this replica's index has it (or
`indexed: false` after `index_wait_seconds`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from kb_search.application.commands import WriteResult
from kb_search.application.runtime import KbRuntime
from kb_search.domain.article import Article
from kb_search.entrypoints.deps import Author, Editing, Kb, Lang, Reading, SectionParam, actor_of
from kb_search.entrypoints.markdown_html import render_markdown
from kb_search.entrypoints.schemas import (
    ArticleIn,
    ArticleListOut,
    ArticleOut,
    ArticleSummaryOut,
    ArticleUpdateIn,
    FeedbackIn,
    VariantOut,
    WriteOut,
)
from shared.auth import CurrentUser
from shared.contracts.kb import article_key
from shared.errors import ErrorDetail, NotFound, Unprocessable

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"])


def _article(raw: dict[str, object]) -> Article:
    return Article.from_mapping(raw)  # `InvalidArticle`: 422 (`errors.KB_ERRORS`)


def _stored_id(kb: KbRuntime, article_id: str) -> str:
    """The article's own id for `article_id` (an id or its key), else `article_id` as given."""
    doc = kb.index.resolve(article_id)
    return doc.head.id if doc else article_id


async def _written(kb: KbRuntime, result: WriteResult) -> WriteOut:
    indexed = await kb.projection.wait_for(result.sequence, within=kb.index_wait_seconds)
    return WriteOut(id=result.article_id, version=result.version, changed=result.changed, indexed=indexed)


@router.get("/articles", response_model=ArticleListOut)
async def browse(
    kb: Reading,
    section: SectionParam,
    lang: Lang = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ArticleListOut:
    """Browse a section (a retired one too): its articles by title, in the preferred language
    where one exists. A section that never existed: 422."""
    known = {s.section.id for s in await kb.sections.all()}
    if section not in known:
        problem = f"no section {section!r}"
        detail = ErrorDetail(loc=["query", "section"], msg=problem, type="unknown_section")
        raise Unprocessable("no such section", details=[detail])
    docs = kb.index.browse(section=section, lang=lang.value if lang else "")
    return ArticleListOut(
        section=section,
        total=len(docs),
        items=[
            ArticleSummaryOut(
                id=d.head.id,
                key=article_key(d.head.id),
                lang=d.head.lang.value,
                section=d.head.section,
                title=d.head.title,
                url=d.head.url,
                variants=[VariantOut.model_validate(asdict(v)) for v in kb.index.variants(d.head.id)],
            )
            for d in docs[offset : offset + limit]
        ],
    )


@router.get("/articles/{article_id:path}", response_model=ArticleOut)
async def get_article(article_id: str, kb: Reading) -> ArticleOut:
    doc = kb.index.resolve(article_id)
    if doc is None:
        raise NotFound(f"no article {article_id!r}")
    a = doc.article
    counts = kb.projection.feedback(a.id)
    return ArticleOut.model_validate(
        {
            **asdict(a),
            "body_html": render_markdown(a.body),
            "key": article_key(a.id),
            "version": doc.version,
            "variants": [asdict(v) for v in kb.index.variants(a.id)],
            "feedback": asdict(counts),
        }
    )


@router.post("/articles/{article_id:path}/feedback", status_code=status.HTTP_202_ACCEPTED)
async def feedback(
    article_id: str,
    body: FeedbackIn,
    user: CurrentUser,
    kb: Kb,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, object]:
    stored_id = _stored_id(kb, article_id)
    await kb.commands.feedback(
        stored_id,
        helpful=body.helpful,
        comment=body.comment,
        actor=actor_of(user),
        account_id=user.account_id or "otelms",
        idempotency_key=idempotency_key,
        correlation_id=getattr(request.state, "correlation_id", None),
    )
    return {"article_id": stored_id, "helpful": body.helpful, "recorded": True}


@router.post("/articles", response_model=WriteOut, status_code=status.HTTP_201_CREATED)
async def publish(body: ArticleIn, author: Author, kb: Kb, response: Response) -> WriteOut:
    article = _article(body.model_dump())
    result = await kb.commands.publish(article, **author)
    if not result.changed:
        response.status_code = status.HTTP_200_OK
    return await _written(kb, result)


@router.put("/articles/{article_id:path}", response_model=WriteOut)
async def update(article_id: str, body: ArticleUpdateIn, edit: Editing, kb: Kb) -> WriteOut:
    article = _article({**body.model_dump(), "id": article_id})
    result = await kb.commands.update(article, **edit.based_on())
    return await _written(kb, result)


@router.delete("/articles/{article_id:path}", response_model=WriteOut)
async def retire(article_id: str, edit: Editing, kb: Kb) -> WriteOut:
    stored_id = _stored_id(kb, article_id)
    result = await kb.commands.retire(stored_id, **edit.based_on())
    return await _written(kb, result)
