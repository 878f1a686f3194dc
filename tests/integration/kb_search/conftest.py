from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from kb_search.adapters.article_log import JetStreamArticleLog
from kb_search.adapters.follower import ArticleFollower
from kb_search.application.commands import KbCommands
from kb_search.bootstrap import build_index, load_settings, migrate
from kb_search.projections.search_index import SearchIndexProjection
from kb_search.search.analysis import Analyzer
from kb_search.settings import KbSearchSettings
from shared.nats import connect
from shared.settings import CommonSettings


@pytest.fixture(scope="session")
def shared_analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture
def kb_settings(common_settings: CommonSettings, nats_prefix: str, tmp_path: Path) -> KbSearchSettings:
    common = common_settings.model_copy(update={"nats_prefix": nats_prefix})
    return load_settings(common=common, glossary_path=tmp_path / "no-glossary.json", query_cache_size=0)


@pytest.fixture
async def migrated(kb_settings: KbSearchSettings) -> KbSearchSettings:
    await migrate(kb_settings)
    return kb_settings


@pytest.fixture
async def nc(migrated: KbSearchSettings) -> AsyncIterator[NATS]:
    conn = await connect(migrated.common, name="kb-test")
    yield conn
    await conn.drain()


@pytest.fixture
def commands(nc: NATS, migrated: KbSearchSettings) -> KbCommands:
    return KbCommands(JetStreamArticleLog(nc.jetstream(), prefix=migrated.common.nats_prefix))


@dataclass
class Replica:
    projection: SearchIndexProjection
    follower: ArticleFollower


Replicas = Callable[[], AbstractAsyncContextManager[Replica]]


@pytest.fixture
def replica(migrated: KbSearchSettings, shared_analyzer: Analyzer) -> Replicas:
    """`async with replica() as r:` one kb-search index builder on its own connection."""

    @asynccontextmanager
    async def start() -> AsyncIterator[Replica]:
        conn = await connect(migrated.common, name="kb-replica")
        projection = SearchIndexProjection(build_index(migrated, shared_analyzer))
        follower = ArticleFollower(conn.jetstream(), projection, prefix=migrated.common.nats_prefix)
        follower.start()
        try:
            yield Replica(projection, follower)
        finally:
            await follower.stop()
            await conn.drain()

    return start
