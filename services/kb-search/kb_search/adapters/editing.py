"""The editors' commands over a NATS connection of their own (`helpdesk kb import`, seeding)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kb_search.adapters.article_log import JetStreamArticleLog, JetStreamSectionLog
from kb_search.application.commands import KbCommands
from kb_search.application.sections import SectionCommands
from kb_search.settings import KbSearchSettings
from shared.nats import connect


@asynccontextmanager
async def article_log_session(settings: KbSearchSettings, *, name: str) -> AsyncIterator[KbCommands]:
    """Commands on the article and section streams; the connection drains on the way out."""
    nc = await connect(settings.common, name=name)
    prefix = settings.common.nats_prefix
    try:
        js = nc.jetstream()
        sections = SectionCommands(JetStreamSectionLog(js, prefix=prefix))
        yield KbCommands(JetStreamArticleLog(js, prefix=prefix), sections)
    finally:
        await nc.drain()
