"""Composition root of the kb-search service: settings, connections and the app, once per process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from kb_search.adapters.article_files import read_articles
from kb_search.adapters.article_log import JetStreamArticleLog, JetStreamSectionLog
from kb_search.adapters.editing import article_log_session
from kb_search.adapters.follower import ArticleFollower
from kb_search.application.commands import KbCommands
from kb_search.application.importer import import_articles
from kb_search.application.runtime import KbRuntime
from kb_search.application.sections import SectionCommands
from kb_search.embedding.dense import DenseIndex, open_dense
from kb_search.entrypoints import api
from kb_search.entrypoints.cli import add_cli_commands
from kb_search.entrypoints.errors import KB_ERRORS
from kb_search.projections.search_index import SearchIndexProjection
from kb_search.search.analysis import Analyzer
from kb_search.search.bodies import BodyFile
from kb_search.search.crosslang import Glossary
from kb_search.search.fusion import Fusion
from kb_search.search.index import SearchIndex
from kb_search.settings import KbSearchSettings
from shared.collector import settled_gc
from shared.contracts.envelope import SYSTEM_ACTOR
from shared.contracts.subjects import KB_STREAM
from shared.errors import install_error_mapping
from shared.health import Readiness
from shared.http import create_app as create_http_app
from shared.logging import get_logger
from shared.nats import connect, ensure_dead_letter_stream, ensure_stream, stream_config
from shared.ratelimit import RateLimiter
from shared.service import define_service

log = get_logger(__name__)


def load_settings(**overrides: Any) -> KbSearchSettings:
    return KbSearchSettings(**overrides)


def build_index(
    settings: KbSearchSettings, analyzer: Analyzer | None = None, dense: DenseIndex | None = None
) -> SearchIndex:
    analyzer = analyzer or Analyzer()
    path = settings.glossary_file()
    glossary = Glossary.load(path, analyzer) if path else Glossary()
    return SearchIndex(
        analyzer=analyzer,
        glossary=glossary,
        cross_language=settings.cross_language,
        cache_size=settings.query_cache_size,
        dense=dense,
        fusion=Fusion(answer_lead=settings.answer_lead),
        bodies=BodyFile(settings.bodies_dir),
    )


def build_dense(settings: KbSearchSettings) -> DenseIndex:
    """The model, its vector cache and language offsets (the first start embeds ~250 short
    sentences; later ones read them from the cache); unavailable, not failing, without a model."""
    return open_dense(settings.dense_model, directory=settings.vectors_dir(), threads=settings.dense_threads)


def create_app(settings: KbSearchSettings) -> FastAPI:
    readiness = Readiness()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await connect(settings.common, name="kb-search")
        app.state.rate_limiter = await RateLimiter.open(nc, settings.common)
        js = nc.jetstream()
        prefix = settings.common.nats_prefix
        dense = await asyncio.to_thread(build_dense, settings)
        projection = SearchIndexProjection(build_index(settings, dense=dense))
        follower = ArticleFollower(js, projection, prefix=prefix)

        async def index_ready() -> bool:
            return follower.caught_up

        readiness.add_nats(nc)
        readiness.add("index", index_ready)
        readiness.describe("dense", lambda: dense.state.value)
        readiness.describe("index_apply", follower.apply_state)
        sections = SectionCommands(JetStreamSectionLog(js, prefix=prefix))
        app.state.kb = KbRuntime(
            index=projection.index,
            projection=projection,
            commands=KbCommands(JetStreamArticleLog(js, prefix=prefix), sections),
            sections=sections,
            feed=follower,
            index_wait_seconds=settings.index_wait_seconds,
        )
        follower.start()
        try:
            with settled_gc():  # and the index is frozen too once the replay has caught up
                yield
        finally:
            readiness.shutting_down = True
            await follower.stop()
            projection.index.bodies.close()
            dense.stop()
            await nc.drain()
            log.info("kb_search_stopped", position=projection.position)

    app = create_http_app(
        service="kb-search",
        title="OtelMS Helpdesk — kb-search",
        settings=settings,
        readiness=readiness,
        lifespan=lifespan,
        body_limits=api.BODY_LIMITS,
    )
    install_error_mapping(app, KB_ERRORS)
    app.include_router(api.router)
    return app


async def migrate(settings: KbSearchSettings) -> None:
    """Create the article stream and the dead-letter stream if missing, and the default sections
    that have never existed (idempotent)."""
    common = settings.common
    nc = await connect(common, name="kb-search-migrate")
    try:
        js = nc.jetstream()
        config = stream_config(KB_STREAM, prefix=common.nats_prefix, replicas=common.nats_stream_replicas)
        await ensure_stream(js, config)
        await ensure_dead_letter_stream(js, prefix=common.nats_prefix, replicas=common.nats_stream_replicas)
        created = await SectionCommands(JetStreamSectionLog(js, prefix=common.nats_prefix)).ensure_defaults(
            actor=SYSTEM_ACTOR
        )
        if created:
            log.info("kb_sections_created", sections=created)
    finally:
        await nc.drain()


async def seed_demo(settings: KbSearchSettings) -> None:
    """Import the demo articles (idempotent: unchanged articles are left alone)."""
    path = settings.demo_articles_file()
    if not path.is_file():
        log.warning("kb_demo_articles_missing", path=str(path))
        return
    async with article_log_session(settings, name="kb-seed") as commands:
        report = await import_articles(commands, read_articles(path), actor=SYSTEM_ACTOR)
    log.info(
        "kb_demo_seeded",
        published=report.published,
        updated=report.updated,
        unchanged=report.unchanged,
        bad=len(report.problems),
    )


SERVICE = define_service(
    "kb-search",
    settings=KbSearchSettings,
    port=8704,
    create_app=create_app,
    migrate=migrate,
    seed_demo=seed_demo,
    add_cli_commands=add_cli_commands,
)
