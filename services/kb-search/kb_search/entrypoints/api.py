"""HTTP routes: search, suggest, deflect, sections and articles for every signed-in user; publish,
update and retire for editors (role `editor` or `agent`); feedback for anyone signed in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import ServiceUnavailableError

from kb_search.application.commands import WriteResult
from kb_search.application.runtime import KbRuntime
from kb_search.domain.article import Article
from kb_search.domain.errors import ArticleAlreadyPublished, ArticleNotFound, InvalidArticle, VersionConflict
from kb_search.entrypoints.schemas import (
    ArticleIn,
    ArticleListOut,
    ArticleOut,
    ArticleSummaryOut,
    ArticleUpdateIn,
    DeflectIn,
    DeflectOut,
    FeedbackIn,
    HitOut,
    SearchOut,
    SectionOut,
    SectionsOut,
    SuggestOut,
    VariantOut,
    WriteOut,
)
from shared.auth import CurrentUser, EditorUser, Principal, Role
from shared.contracts.envelope import Actor, ActorKind
from shared.contracts.kb import Language, Section, article_key
from shared.errors import (
    Conflict,
    ErrorDetail,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    Unprocessable,
)

MAX_QUERY_LENGTH = 4096
MAX_BODY_BYTES = 512 * 1024
DEFLECT_LIMIT = 3


def runtime(request: Request) -> KbRuntime:
    kb = getattr(request.app.state, "kb", None)
    if not isinstance(kb, KbRuntime):
        raise ServiceUnavailable("the knowledge base is starting")
    return kb


def ready_runtime(kb: Annotated[KbRuntime, Depends(runtime)]) -> KbRuntime:
    """The runtime, once this replica's index has replayed the stream (else 503: try another)."""
    if not kb.feed.caught_up:
        raise ServiceUnavailable("the search index of this replica is still being built")
    return kb


def body_size_limit(request: Request) -> None:
    """Refuse an oversized body before reading it."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")


Ready = Annotated[KbRuntime, Depends(ready_runtime)]
Kb = Annotated[KbRuntime, Depends(runtime)]
QueryText = Annotated[str, Query(max_length=MAX_QUERY_LENGTH, description="What the user typed.")]
Lang = Annotated[Language | None, Query(description="Preferred language: its versions come first.")]
IfMatch = Annotated[str | None, Header(description="The article version the editor saw.")]


def actor_of(principal: Principal) -> Actor:
    kind = ActorKind.USER if principal.role is Role.USER else ActorKind.AGENT
    return Actor(kind=kind, id=principal.sub, name=principal.name)


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().strip('"').removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Unprocessable("If-Match must be the article version, a number")
    return int(value)


def _article(raw: dict[str, object]) -> Article:
    try:
        return Article.from_mapping(raw)
    except InvalidArticle as exc:
        details = [ErrorDetail(loc=["body"], msg=p, type="invalid_article") for p in exc.problems]
        raise Unprocessable("the article is not valid", details=details) from None


@asynccontextmanager
async def domain_errors() -> AsyncIterator[None]:
    """Domain and messaging failures → the shared error shape."""
    try:
        yield
    except ArticleNotFound as exc:
        raise NotFound(f"no article {exc.article_id!r}") from None
    except ArticleAlreadyPublished as exc:
        raise Conflict(str(exc)) from None
    except VersionConflict as exc:
        if exc.expected is not None and exc.actual is not None:
            raise PreconditionFailed(str(exc)) from None
        raise Conflict("the article changed at the same time; read it again and retry") from None
    except (NatsTimeoutError, NoRespondersError, ConnectionClosedError, ServiceUnavailableError):
        raise ServiceUnavailable("the article stream does not answer; try again") from None


def router() -> APIRouter:
    api = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"])

    @api.get("/search", response_model=SearchOut)
    async def search(
        user: CurrentUser,
        kb: Ready,
        q: QueryText,
        lang: Lang = None,
        section: Section | None = None,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> SearchOut:
        result = kb.index.search(
            q, lang=lang.value if lang else "", section=section.value if section else "", limit=limit
        )
        return SearchOut(
            query=q,
            total=result.total,
            hits=[HitOut.of(h) for h in result.hits],
            facets=result.facets,
            corrections=result.corrections,
        )

    @api.get("/suggest", response_model=SuggestOut)
    async def suggest(
        user: CurrentUser,
        kb: Ready,
        q: QueryText,
        lang: Lang = None,
        limit: Annotated[int, Query(ge=1, le=20)] = 5,
    ) -> SuggestOut:
        result = kb.index.search(q, lang=lang.value if lang else "", limit=limit, prefix=True)
        return SuggestOut(
            query=q, suggestions=[HitOut.of(h) for h in result.hits], completions=list(result.completions)
        )

    @api.post("/deflect", response_model=DeflectOut, dependencies=[Depends(body_size_limit)])
    async def deflect(user: CurrentUser, kb: Ready, body: DeflectIn) -> DeflectOut:
        topic_section = body.topic.strip().lower().replace(" ", "-")
        boost = topic_section if topic_section in {s.value for s in Section} else ""
        result = kb.index.search(
            f"{body.topic} {body.text}",
            lang=body.lang.value if body.lang else "",
            limit=DEFLECT_LIMIT,
            prefix=False,
            boost_section=boost,
        )
        return DeflectOut(articles=[HitOut.of(h) for h in result.hits])

    @api.get("/sections", response_model=SectionsOut)
    async def sections(user: CurrentUser, kb: Ready) -> SectionsOut:
        counts = kb.index.sections()
        return SectionsOut(
            sections=[
                SectionOut(
                    section=s.value,
                    total=sum(counts.get(s.value, {}).values()),
                    by_language=counts.get(s.value, {}),
                )
                for s in Section
            ]
        )

    @api.get("/articles", response_model=ArticleListOut)
    async def browse(
        user: CurrentUser,
        kb: Ready,
        section: Section,
        lang: Lang = None,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> ArticleListOut:
        """Browse a section: its articles by title, in the preferred language where one exists."""
        docs = kb.index.browse(section=section.value, lang=lang.value if lang else "")
        return ArticleListOut(
            section=section.value,
            total=len(docs),
            items=[
                ArticleSummaryOut(
                    id=d.article.id,
                    key=article_key(d.article.id),
                    lang=d.article.lang.value,
                    section=d.article.section.value,
                    title=d.article.title,
                    url=d.article.url,
                    variants=[VariantOut.model_validate(asdict(v)) for v in kb.index.variants(d.article.id)],
                )
                for d in docs[offset : offset + limit]
            ],
        )

    @api.get("/articles/{article_id:path}", response_model=ArticleOut)
    async def get_article(article_id: str, user: CurrentUser, kb: Ready) -> ArticleOut:
        doc = kb.index.resolve(article_id)
        if doc is None:
            raise NotFound(f"no article {article_id!r}")
        a = doc.article
        counts = kb.projection.feedback(a.id)
        return ArticleOut.model_validate(
            {
                **asdict(a),
                "key": article_key(a.id),
                "version": doc.version,
                "variants": [asdict(v) for v in kb.index.variants(a.id)],
                "feedback": asdict(counts),
            }
        )

    @api.post("/articles/{article_id:path}/feedback", status_code=status.HTTP_202_ACCEPTED,
              dependencies=[Depends(body_size_limit)])  # fmt: skip
    async def feedback(
        article_id: str,
        body: FeedbackIn,
        user: CurrentUser,
        kb: Kb,
        request: Request,
        idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    ) -> dict[str, object]:
        doc = kb.index.resolve(article_id)
        async with domain_errors():
            await kb.commands.feedback(
                doc.article.id if doc else article_id,
                helpful=body.helpful,
                comment=body.comment,
                actor=actor_of(user),
                account_id=user.account_id or "otelms",
                idempotency_key=idempotency_key,
                correlation_id=getattr(request.state, "correlation_id", None),
            )
        return {
            "article_id": doc.article.id if doc else article_id,
            "helpful": body.helpful,
            "recorded": True,
        }

    @api.post("/articles", response_model=WriteOut, status_code=status.HTTP_201_CREATED,
              dependencies=[Depends(body_size_limit)])  # fmt: skip
    async def publish(
        body: ArticleIn, editor: EditorUser, kb: Kb, request: Request, response: Response
    ) -> WriteOut:
        article = _article(body.model_dump())
        async with domain_errors():
            result = await kb.commands.publish(
                article, actor=actor_of(editor), correlation_id=getattr(request.state, "correlation_id", None)
            )
        if not result.changed:
            response.status_code = status.HTTP_200_OK
        return await _written(kb, result)

    @api.put("/articles/{article_id:path}", response_model=WriteOut, dependencies=[Depends(body_size_limit)])
    async def update(
        article_id: str,
        body: ArticleUpdateIn,
        editor: EditorUser,
        kb: Kb,
        request: Request,
        if_match: IfMatch = None,
    ) -> WriteOut:
        article = _article({**body.model_dump(), "id": article_id})
        async with domain_errors():
            result = await kb.commands.update(
                article,
                actor=actor_of(editor),
                expected_version=_expected_version(if_match),
                correlation_id=getattr(request.state, "correlation_id", None),
            )
        return await _written(kb, result)

    @api.delete("/articles/{article_id:path}", response_model=WriteOut)
    async def retire(
        article_id: str, editor: EditorUser, kb: Kb, request: Request, if_match: IfMatch = None
    ) -> WriteOut:
        doc = kb.index.resolve(article_id)
        async with domain_errors():
            result = await kb.commands.retire(
                doc.article.id if doc else article_id,
                actor=actor_of(editor),
                expected_version=_expected_version(if_match),
                correlation_id=getattr(request.state, "correlation_id", None),
            )
        return await _written(kb, result)

    return api


async def _written(kb: KbRuntime, result: WriteResult) -> WriteOut:
    indexed = await kb.projection.wait_for(result.sequence, within=kb.index_wait_seconds)
    return WriteOut(id=result.article_id, version=result.version, changed=result.changed, indexed=indexed)
