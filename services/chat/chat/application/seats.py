"""The seats a chat holds in the directory, which cap the chats one user and one hotel account have
open at once across every chat process (see `chat.domain.model.Seat` and `Directory.claim_seat`).

A session takes its seats before it joins the queue, writes them back into a bucket that was lost,
and gives them back when it ends; a crashed process's seats are gone with its heartbeat, like its
sessions.
"""

from __future__ import annotations

from collections.abc import Iterable

from chat.adapters.errors import NATS_AWAY
from chat.application.context import HubContext
from chat.domain.errors import ChatUnavailable, TooManyChats
from chat.domain.model import Seat, seat_owners
from shared.auth import Principal
from shared.logging import get_logger

log = get_logger(__name__)


class Seats:
    def __init__(self, ctx: HubContext) -> None:
        self._ctx = ctx

    async def take(self, principal: Principal, sid: str) -> tuple[str, ...]:
        """One seat of the user's and one of their account's, or `TooManyChats` (none kept);
        `ChatUnavailable` when the directory does not answer."""
        directory = self._ctx.directory
        seat = Seat(sid=sid, proc=self._ctx.proc)
        owners = seat_owners(self._ctx.config.caps, account_id=principal.account_id or "", user=principal.sub)
        taken: list[str] = []
        try:
            for owner in owners:
                ident = await directory.claim_seat(owner.key, limit=owner.limit, seat=seat)
                if ident is None:
                    log.info("chat_refused", scope=owner.scope.value, limit=owner.limit)
                    raise owner.refusal()
                taken.append(ident)
        except TooManyChats:
            await self.release(taken)
            raise
        except NATS_AWAY:  # NATS away or the bucket lost
            await self.release(taken)
            log.warning("chat_not_opened", exc_info=True)
            raise ChatUnavailable("the chat is not available right now; try again shortly") from None
        return tuple(taken)

    async def release(self, seats: Iterable[str]) -> None:
        """Give seats back; one not given back (NATS away) is deleted by the hub one TTL later."""
        for ident in seats:
            try:
                await self._ctx.directory.release_seat(ident)
            except NATS_AWAY:
                log.warning("chat_seat_not_released", exc_info=True)

    async def republish(self, sid: str, seats: Iterable[str]) -> None:
        """Write a session's seats into a bucket that was lost; one a new chat took meanwhile stays
        theirs."""
        for ident in seats:
            await self._ctx.directory.put_seat(ident, Seat(sid=sid, proc=self._ctx.proc))
