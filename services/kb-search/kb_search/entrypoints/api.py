"""HTTP routes: search, suggest, deflect, sections and articles for every signed-in user; publish,
update and retire articles, and create, change and retire sections, for editors (role `editor` or
`agent`); feedback for anyone signed in.

Search and deflect go through `SearchIndex.search_async`: a query that needs the embedding model is
embedded in a worker thread, so the event loop never waits for the model. Suggest is lexical only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import ServiceUnavailableError

from kb_search.application.commands import WriteResult
from kb_search.application.runtime import KbRuntime
from kb_search.domain.article import Article
from kb_search.domain.errors import (
    ArticleAlreadyPublished,
    ArticleNotFound,
    InvalidArticle,
    InvalidSection,
    SectionAlreadyExists,
    SectionNotFound,
    UnknownSection,
    VersionConflict,
)
from kb_search.domain.section import Section, SectionState
from kb_search.entrypoints.markdown_html import render_markdown
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
    SectionIn,
    SectionOut,
    SectionsOut,
    SectionUpdateIn,
    SectionWriteOut,
    SuggestOut,
    VariantOut,
    WriteOut,
)
from shared.auth import CurrentUser, EditorUser, Principal, Role
from shared.contracts.envelope import Actor, ActorKind
from shared.contracts.kb import Language, article_key
from shared.contracts.kb_v2 import MAX_SECTION_ID_LENGTH, SECTION_ID_PATTERN
from shared.edge import BodyLimit, RouteRule
from shared.errors import (
    Conflict,
    ErrorDetail,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    Unprocessable,
)
from shared.parsing import expected_version, natural
from shared.ratelimit import Action, limited
from shared.types import TextOnly

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


# For the HTTP edge, which refuses a larger body before reading it: an article's Markdown is long.
BODY_LIMITS = (BodyLimit(RouteRule("POST PUT", "/api/v1/kb/articles{rest:path}"), MAX_BODY_BYTES),)


def body_size_limit(request: Request) -> None:
    """Refuse an oversized body before reading it."""
    length = request.headers.get("content-length")
    declared = natural(length.strip()) if length is not None else None
    if declared is not None and declared > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")


Ready = Annotated[KbRuntime, Depends(ready_runtime)]
Kb = Annotated[KbRuntime, Depends(runtime)]
QueryText = Annotated[str, Query(max_length=MAX_QUERY_LENGTH, description="What the user typed."), TextOnly]
Lang = Annotated[Language | None, Query(description="Preferred language: its versions come first.")]
IfMatch = Annotated[str | None, Header(description="The version the editor saw.")]
SectionParam = Annotated[
    str, Query(max_length=MAX_SECTION_ID_LENGTH, pattern=SECTION_ID_PATTERN, description="A section id.")
]
SectionPath = Annotated[str, Path(max_length=MAX_SECTION_ID_LENGTH, pattern=SECTION_ID_PATTERN)]


def actor_of(principal: Principal) -> Actor:
    kind = ActorKind.USER if principal.role is Role.USER else ActorKind.AGENT
    return Actor(kind=kind, id=principal.sub, name=principal.name)


def _expected_version(if_match: str | None) -> int | None:
    """`If-Match` read as every service reads it (`shared.parsing`): `*` is any version."""
    return expected_version(if_match)


def _article(raw: dict[str, object]) -> Article:
    try:
        return Article.from_mapping(raw)
    except InvalidArticle as exc:
        raise Unprocessable(
            "the article is not valid", details=_details(exc.problems, "invalid_article")
        ) from None


def _details(problems: list[str], kind: str) -> list[ErrorDetail]:
    """Domain problems (`field: what is wrong`) as error details naming the field."""
    details = []
    for problem in problems:
        name, sep, message = problem.partition(": ")
        named = sep and name.replace(".", "").isidentifier()
        loc: list[str | int] = ["body", *name.split(".")] if named else ["body"]
        details.append(ErrorDetail(loc=loc, msg=message if len(loc) > 1 else problem, type=kind))
    return details


@asynccontextmanager
async def domain_errors() -> AsyncIterator[None]:
    """Domain and messaging failures → the shared error shape."""
    try:
        yield
    except ArticleNotFound as exc:
        raise NotFound(f"no article {exc.article_id!r}") from None
    except SectionNotFound as exc:
        raise NotFound(str(exc)) from None
    except UnknownSection as exc:
        detail = ErrorDetail(loc=["body", "section"], msg=str(exc), type="unknown_section")
        raise Unprocessable("the article names no live section", details=[detail]) from None
    except InvalidSection as exc:
        raise Unprocessable(
            "the section is not valid", details=_details(exc.problems, "invalid_section")
        ) from None
    except (ArticleAlreadyPublished, SectionAlreadyExists) as exc:
        raise Conflict(str(exc)) from None
    except VersionConflict as exc:
        if exc.expected is not None and exc.actual is not None:
            raise PreconditionFailed(str(exc)) from None
        raise Conflict("it changed at the same time; read it again and retry") from None
    except (NatsTimeoutError, NoRespondersError, ConnectionClosedError, ServiceUnavailableError):
        raise ServiceUnavailable("the article stream does not answer; try again") from None


def router() -> APIRouter:
    api = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"])

    @api.get("/search", response_model=SearchOut, dependencies=[limited(Action.FAQ)])
    async def search(
        user: CurrentUser,
        kb: Ready,
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

    @api.get("/suggest", response_model=SuggestOut, dependencies=[limited(Action.FAQ)])
    async def suggest(
        user: CurrentUser,
        kb: Ready,
        q: QueryText,
        lang: Lang = None,
        limit: Annotated[int, Query(ge=1, le=20)] = 5,
    ) -> SuggestOut:
        # Lexical only: a keystroke never waits for (or pays for) the model; Enter searches in full.
        result = kb.index.search(q, lang=lang.value if lang else "", limit=limit, prefix=True, dense=False)
        return SuggestOut(
            query=q, suggestions=[HitOut.of(h) for h in result.hits], completions=list(result.completions)
        )

    @api.post(
        "/deflect", response_model=DeflectOut, dependencies=[Depends(body_size_limit), limited(Action.FAQ)]
    )
    async def deflect(user: CurrentUser, kb: Ready, body: DeflectIn) -> DeflectOut:
        topic_section = body.topic.strip().lower().replace(" ", "-")
        async with domain_errors():
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

    @api.get("/sections", response_model=SectionsOut)
    async def sections(
        user: CurrentUser,
        kb: Ready,
        include_retired: Annotated[
            bool, Query(description="Also retired sections (whose articles wait to be moved).")
        ] = False,
    ) -> SectionsOut:
        """The sections by order, with their names in every language and live article counts."""
        async with domain_errors():
            found = await kb.sections.all()
        counts = kb.index.sections()
        return SectionsOut(
            sections=[
                _section_out(s, counts.get(s.section.id, {}))
                for s in found
                if include_retired or not s.retired
            ]
        )

    @api.post("/sections", response_model=SectionWriteOut, status_code=status.HTTP_201_CREATED,
              dependencies=[Depends(body_size_limit)])  # fmt: skip
    async def create_section(
        body: SectionIn, editor: EditorUser, kb: Kb, request: Request, response: Response
    ) -> SectionWriteOut:
        async with domain_errors():
            order = body.order
            if order is None:  # where it was (a live or retired one), else after every other
                known = {s.section.id: s.section.order for s in await kb.sections.all()}
                order = known.get(body.id, max(known.values(), default=0) + 10)
            section = Section.of(body.id, body.names.model_dump(), order)
            written = await kb.sections.create(
                section, actor=actor_of(editor), correlation_id=getattr(request.state, "correlation_id", None)
            )
        if not written.changed:
            response.status_code = status.HTTP_200_OK
        return SectionWriteOut(id=written.section_id, version=written.version, changed=written.changed)

    @api.put(
        "/sections/{section_id}", response_model=SectionWriteOut, dependencies=[Depends(body_size_limit)]
    )
    async def update_section(
        section_id: SectionPath,
        body: SectionUpdateIn,
        editor: EditorUser,
        kb: Kb,
        request: Request,
        if_match: IfMatch = None,
    ) -> SectionWriteOut:
        async with domain_errors():
            current = await kb.sections.live(section_id)
            names = body.names.model_dump() if body.names else dict(current.section.names)
            order = current.section.order if body.order is None else body.order
            written = await kb.sections.update(
                Section.of(section_id, names, order),
                actor=actor_of(editor),
                expected_version=_expected_version(if_match),
                correlation_id=getattr(request.state, "correlation_id", None),
            )
        return SectionWriteOut(id=written.section_id, version=written.version, changed=written.changed)

    @api.delete("/sections/{section_id}", response_model=SectionWriteOut)
    async def retire_section(
        section_id: SectionPath, editor: EditorUser, kb: Kb, request: Request, if_match: IfMatch = None
    ) -> SectionWriteOut:
        """Retire a section: it is no longer listed or offered; its articles keep its id, stay
        searchable and are listed under it (`GET /articles?section=`) until they are moved."""
        async with domain_errors():
            written = await kb.sections.retire(
                section_id,
                actor=actor_of(editor),
                expected_version=_expected_version(if_match),
                correlation_id=getattr(request.state, "correlation_id", None),
            )
        return SectionWriteOut(id=written.section_id, version=written.version, changed=written.changed)

    @api.get("/articles", response_model=ArticleListOut)
    async def browse(
        user: CurrentUser,
        kb: Ready,
        section: SectionParam,
        lang: Lang = None,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> ArticleListOut:
        """Browse a section (a retired one too): its articles by title, in the preferred language
        where one exists. A section that never existed: 422."""
        async with domain_errors():
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
                    id=d.article.id,
                    key=article_key(d.article.id),
                    lang=d.article.lang.value,
                    section=d.article.section,
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
                "body_html": render_markdown(a.body),
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
