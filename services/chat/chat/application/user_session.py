"""One user's chat in the process holding their WebSocket, and the effects of its state machine.

The lifecycle is `chat.domain.session`: every change goes through `SessionDriver.drive`, which keeps
the new state and then does what the transition says, in order (frames to the user, relay to the
specialist, the transcript, replies to a specialists' process, leaving the queue, statistics). The
intake and the transcript stay in this process's memory; the KV bucket only learns ids and states.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from chat.application.context import HubContext, Send
from chat.application.seats import Seats
from chat.domain import server_frames as out
from chat.domain import session as sm
from chat.domain.conversation import TicketDraft, Transcript
from chat.domain.intake import Intake
from shared.auth import Principal
from shared.contracts.chat import ChatEventData
from shared.contracts.envelope import Actor, ActorKind
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(eq=False)
class UserSession:
    sid: str
    principal: Principal
    intake: Intake
    token: str  # the user's own bearer token, only to create a request on their behalf
    send: Send
    transcript: Transcript
    state: sm.SessionState
    queued_since: float = 0.0  # the queue entry's `since`: the place in the queue, kept on requeue
    events: int = 0
    seats: tuple[str, ...] = ()  # the directory's seats this session holds (see `Seat`)
    topic: str | None = None  # the support topic chosen in the chat form (None: no directory)
    team: str | None = None  # the team that topic is answered by, offered the chat first
    subscription: Subscription | None = field(default=None, repr=False)
    # Set once the user has been told they are queued: relay messages wait for it, so the user never
    # hears "assigned" before "queued" when a specialist is free at once.
    announced: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def account_id(self) -> str:
        return self.principal.account_id or ""

    @property
    def phase(self) -> sm.Phase:
        return self.state.phase


class SessionDriver:
    """Moves sessions through their state machine and carries out the effects."""

    def __init__(
        self, ctx: HubContext, seats: Seats, *, on_phase: Callable[[UserSession], None] | None = None
    ) -> None:
        self._ctx = ctx
        self._seats = seats
        self._on_phase = on_phase  # told of every session whose phase an event changed

    async def drive(self, session: UserSession, event: sm.Event, *, msg: Msg | None = None) -> None:
        """Apply `event` (a `ChatError` when it may not happen now: nothing changes); `msg` is the
        request from a specialists' process that a `Reply` answers."""
        before = session.state.phase
        session.state, effects = sm.transition(session.state, event)
        if session.state.phase is not before and self._on_phase is not None:
            self._on_phase(session)
        for effect in effects:
            await self._perform(session, effect, msg)

    async def _perform(self, session: UserSession, effect: sm.Effect, msg: Msg | None) -> None:
        relay = self._ctx.relay
        if isinstance(effect, sm.ToUser):
            await session.send(effect.frame)
        elif isinstance(effect, sm.ToSpecialist):
            payload: dict[str, str] = {"t": effect.kind, "sid": session.sid}
            if effect.kind == "msg":
                payload["text"] = effect.text
            elif effect.kind == "request":
                payload["number"] = effect.text
            await relay.publish(relay.agent_subject(effect.agent), payload)
        elif isinstance(effect, sm.Record):
            session.transcript.add(effect.speaker, effect.text)
        elif isinstance(effect, sm.OfferRequest):
            await session.send(out.NoSpecialist(reason=effect.reason, draft=draft_frame(self.draft(session))))
        elif isinstance(effect, sm.TellEnded):
            await session.send(out.Ended(reason=effect.reason, draft=draft_frame(self.draft(session))))
        elif isinstance(effect, sm.Reply):
            if msg is not None:
                await relay.reply(msg, self._reply(session, effect))
        elif isinstance(effect, sm.LeaveQueue):
            # Deleting the entry is how the specialist's process learns the user left (`user_left`).
            await self._ctx.directory.delete_queue(session.sid)
            seats, session.seats = session.seats, ()
            await self._seats.release(seats)
            self._ctx.dirty.set()
        elif isinstance(effect, sm.Emit):
            self.emit(session, effect.data)

    @staticmethod
    def _reply(session: UserSession, effect: sm.Reply) -> dict[str, object]:
        intake = session.intake
        if effect.with_ == "intake":
            return {
                "ok": True,
                "name": intake.name,
                "phone": intake.phone,
                "question": intake.question,
                "account_id": session.account_id,
            }
        if effect.with_ == "card":
            return {"ok": True, "name": intake.name, "question": intake.question}
        return {"ok": True}

    def draft(
        self, session: UserSession, *, topic: str | None = None, importance: str | None = None
    ) -> TicketDraft:
        return session.transcript.draft(
            session.intake,
            topic=topic or session.topic or self._ctx.config.ticket_topic,
            importance=importance or "normal",
        )

    def emit(self, session: UserSession, data: ChatEventData) -> None:
        session.events += 1
        actor = Actor(kind=ActorKind.USER, id=session.principal.sub)
        self._ctx.stats.emit(
            data, sid=session.sid, version=session.events, account_id=session.account_id, actor=actor
        )


def draft_frame(draft: TicketDraft) -> out.Draft:
    return out.Draft(**draft.as_form())
