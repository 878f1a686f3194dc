"""The notifications service reports its durable consumer's lag on `/metrics`: the ticket events the
TICKETS stream holds that the consumer has not been given yet, sampled from the consumer's info."""

from __future__ import annotations

import asyncio

import pytest

from notifications.adapters.consumer import consumer_name
from notifications.bootstrap import stream_name
from notifications.settings import NotificationsSettings
from shared.contracts.subjects import TICKETS_STREAM
from tests.support.notifications import running
from tests.support.wait import WAIT

pytestmark = pytest.mark.e2e


async def test_the_durable_consumers_lag_is_on_the_metrics_page(
    sqlite_settings: NotificationsSettings,
) -> None:
    prefix = sqlite_settings.common.nats_prefix
    series = (
        "helpdesk_nats_consumer_pending_messages{"
        f'consumer="{consumer_name(prefix)}",service="notifications",'
        f'stream="{stream_name(sqlite_settings, TICKETS_STREAM)}"}} 0.0'
    )
    async with running(sqlite_settings) as service, service.client() as client:
        async with asyncio.timeout(WAIT):
            while series not in (await client.get("/metrics")).text:
                await asyncio.sleep(0.05)
