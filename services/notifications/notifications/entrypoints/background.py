"""The jobs each process runs beside its HTTP routes: the views' follower and due-snooze scan."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from notifications.components import Components
from notifications.metrics import HISTORY_VIEW_POSITION, STORE_HEAD, VIEW_POSITION
from shared.logging import get_logger
from shared.stopping import wait_set

log = get_logger(__name__)


async def supervised(job: Awaitable[None]) -> None:
    try:
        await job
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background_job_failed")
        raise


async def follow(parts: Components) -> None:
    """Keep the active-popups and history views up to date and record snoozes that came due (each
    replica may; the second to try finds it recorded). Woken by the store's NOTIFY on PostgreSQL; a
    snooze comes due with time alone, so the scan also runs every `due_scan_seconds`."""
    interval = parts.settings.due_scan_seconds
    while True:
        parts.follow_wake.clear()
        try:
            await asyncio.to_thread(parts.active.catch_up)
            VIEW_POSITION.set(parts.active.position)
            STORE_HEAD.set(await asyncio.to_thread(parts.store.head))
            due = await asyncio.to_thread(parts.active.snoozes_due, parts.clock.now())
            ended = 0
            for popup_id in due:
                ended += await asyncio.to_thread(parts.service.end_snooze_if_due, popup_id)
            own_due = await asyncio.to_thread(parts.active.own_snoozes_due, parts.clock.now())
            for popup_id, user_id in own_due:
                ended += await asyncio.to_thread(parts.service.end_snooze_if_due, popup_id, user_id)
            if ended:
                parts.changed()
                continue  # the view has more to apply now, and more snoozes may be due
        except Exception:  # the store is away for a moment: try again next round
            log.warning("follow_failed", exc_info=True)
        try:  # apart from the above: the history lagging must not hold back popups coming due
            await asyncio.to_thread(parts.history.catch_up)
            HISTORY_VIEW_POSITION.set(parts.history.position)
        except Exception:  # likewise: the job outlives a store outage
            log.warning("history_follow_failed", exc_info=True)
        await wait_set(parts.follow_wake, interval)
