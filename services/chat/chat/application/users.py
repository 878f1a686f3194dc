"""The users' side of one chat process: open a chat, wait in the queue, talk, end, keep it as a request.

A user's session lives in the process holding their WebSocket: the intake (name, phone, question) and
the transcript stay in this process's memory and go no further than the specialist's process, over
core NATS. The KV bucket only learns the session id, the account, the state and the times, plus
the seats the session takes (one of its user's, one of its account's) so that neither can open more
chats than allowed, whichever processes they open them on.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from functools import partial
from typing import Any

from nats.aio.msg import Msg

from chat.adapters.errors import NATS_AWAY
from chat.adapters.tickets import TicketsClient
from chat.application.context import HubContext, Send
from chat.application.seats import Seats
from chat.application.user_session import SessionDriver, UserSession, draft_frame
from chat.domain import server_frames as out
from chat.domain import session as sm
from chat.domain.conversation import Transcript
from chat.domain.errors import ChatUnavailable, IllegalTransition, NotAssigned
from chat.domain.intake import Intake
from chat.domain.model import (
    RANK_NEW,
    RANK_REQUEUED,
    QueueEntry,
    positions,
    specialists_online,
)
from chat.domain.routing import OutsideHours, route
from shared.auth import Principal
from shared.contracts.chat import EndReason
from shared.logging import get_logger

log = get_logger(__name__)

# Requests from a specialists' process that expect an answer, `{"ok": false}` when refused.
_ASKED = (sm.SpecialistJoined, sm.CardAsked, sm.SpecialistOffered)


class UserDesk:
    def __init__(self, ctx: HubContext, *, tickets: TicketsClient | None) -> None:
        self._ctx = ctx
        self._tickets = tickets
        self._seats = Seats(ctx)
        self._driver = SessionDriver(ctx, self._seats, on_phase=self._phase_changed)
        self.sessions: dict[str, UserSession] = {}
        # When `check` must walk the sessions again without a change: the earliest wait or grace
        # period it saw running out (0: at the next round, inf: never), and whether a session's
        # phase changed since its last walk.
        self._due_at = 0.0
        self._walk = True

    # -- commands from the user's WebSocket -------------------------------------------------------

    async def open(
        self, principal: Principal, intake: Intake, *, token: str, send: Send, topic: str | None = None
    ) -> UserSession | None:
        """Join the queue; tell the user at once whether anyone is online and where they stand.
        `TooManyChats` when the user or their account already has as many chats open as allowed.
        Outside the hours of the chosen `topic` the user is not queued (None): they are told when it
        opens and offered a request, pre-filled, with the first answer it would be promised."""
        ctx = self._ctx
        now = ctx.clock()
        routing = route(ctx.hours.view, topic, now=now)
        if isinstance(routing, OutsideHours):
            await self._outside_hours(intake, routing, send)
            return None
        sid = uuid.uuid4().hex
        seats = await self._seats.take(principal, sid)
        session = UserSession(
            sid=sid,
            principal=principal,
            intake=intake,
            token=token,
            send=send,
            transcript=Transcript(max_lines=ctx.config.transcript_max_lines),
            state=sm.SessionState.opened(now=now),
            queued_since=now,
            seats=seats,
            topic=routing.topic,
            team=routing.team,
        )
        entry = QueueEntry(
            sid=sid, account_id=session.account_id, since=now, proc=ctx.proc, team=routing.team
        )
        try:
            session.subscription = await ctx.relay.subscribe(
                ctx.relay.user_subject(sid), partial(self._on_relay, session)
            )
            self.sessions[sid] = session
            await ctx.directory.put_queue(entry, revision=0)
        except NATS_AWAY:  # NATS away or the bucket lost: say so, keep the connection
            self.sessions.pop(sid, None)
            if session.subscription is not None:
                with contextlib.suppress(*NATS_AWAY):
                    await session.subscription.unsubscribe()
            await self._seats.release(seats)
            log.warning("chat_not_opened", exc_info=True)
            raise ChatUnavailable("the chat is not available right now; try again shortly") from None
        online = specialists_online({k: v.value for k, v in ctx.directory.agents.items()})
        place = positions(v.value for v in ctx.directory.queue.values()).get(sid, 1)
        log.info("chat_opened", session=sid, account_id=session.account_id, specialists_online=online)
        try:
            await self._driver.drive(session, sm.QueueJoined(sid, place, online))
        finally:
            session.announced.set()
        ctx.dirty.set()
        return session

    async def message(self, session: UserSession, text: str) -> None:
        """`NotAssigned` until a specialist has joined."""
        await self._driver.drive(session, sm.UserSaid(text))

    async def typing(self, session: UserSession) -> None:
        await self._driver.drive(session, sm.UserTyped())

    async def create_request(
        self, session: UserSession, *, topic: str | None = None, importance: str | None = None
    ) -> str:
        """Only on the user's explicit request: the chat so far becomes a request in their name."""
        if self._tickets is None:
            raise NotAssigned("turning a chat into a request is not configured")
        draft = self._driver.draft(session, topic=topic, importance=importance)
        key = f"chat-{session.sid}-{len(session.transcript)}"
        number = await self._tickets.create(draft, token=session.token, idempotency_key=key)
        log.info("chat_converted_to_request", session=session.sid, ticket_number=number)
        await self._driver.drive(session, sm.UserFiledRequest(number))
        return number

    async def close(self, session: UserSession, *, reason: EndReason = EndReason.USER_LEFT) -> None:
        """The WebSocket closed: the session and everything it held are gone."""
        if self.sessions.pop(session.sid, None) is None:
            return
        try:
            if session.subscription is not None:
                await session.subscription.unsubscribe()
            await self._driver.drive(session, sm.UserLeft(reason, self._ctx.clock()))
        except NATS_AWAY:  # the hub deletes the entry one TTL later (`Leftovers`), and the specialist
            # is told then
            log.warning("chat_close_incomplete", session=session.sid, exc_info=True)
        log.info("chat_closed", session=session.sid, reason=reason.value)

    # -- what the process does on its own ---------------------------------------------------------

    async def update_positions(self) -> None:
        # Not one whose "queued" is still to come (`announced`): its queue entry may be seen while
        # it is being written, and a "position" must not reach the user before "queued".
        waiting = [s for s in self.sessions.values() if s.phase is sm.Phase.WAITING and s.announced.is_set()]
        if not waiting:
            return
        places = positions(v.value for v in self._ctx.directory.queue.values())
        for session in waiting:
            place = places.get(session.sid)
            if place is not None:
                with contextlib.suppress(IllegalTransition):  # it ended meanwhile
                    await self._driver.drive(session, sm.PositionChanged(place))

    def _phase_changed(self, session: UserSession) -> None:
        self._walk = True

    async def check(self, *, changed: bool = True) -> None:
        """Offer a request past the maximum wait; take users back whose specialist is gone.

        Only a change of the directory (`changed`), of a session's phase or the clock reaching a
        wait's or grace period's end can make either due: a round with none of them visits no
        session (with 2,500 chats a process, a round on the 0.5 s tick took 10-13 ms, that walk
        included, while the users talked)."""
        now = self._ctx.clock()
        if not (changed or self._walk) and now < self._due_at:
            return
        self._due_at, self._walk = now, False  # if the walk fails, the next round walks again
        self._due_at = await self._walk_sessions(now)

    async def _walk_sessions(self, now: float) -> float:
        """Visit every session; the earliest time one of them may become due with nothing changed."""
        ctx = self._ctx
        config = ctx.config
        agents = ctx.directory.agents
        due = math.inf
        for session in list(self.sessions.values()):
            state = session.state
            if state.phase is sm.Phase.WAITING:
                await self._driver.drive(session, sm.WaitChecked(now, config.max_wait_seconds))
                if not session.state.offered:
                    since = state.waiting_since if state.waiting_since is not None else now
                    due = min(due, since + config.max_wait_seconds)
            elif state.phase is sm.Phase.ASSIGNED and state.agent is not None:
                held = agents.get(state.agent)
                missing = held is None or session.sid not in ctx.directory.queue
                disconnected_at = None
                if held is not None and not held.value.connected:
                    disconnected_at = held.value.disconnected_at or now
                gone = (missing and ctx.absence_means_gone()) or (
                    disconnected_at is not None and now - disconnected_at >= config.agent_grace_seconds
                )
                if gone:
                    await self._requeue(session)
                    if session.phase is sm.Phase.ASSIGNED:  # not taken back (changed under us)
                        due = now
                elif missing:  # within a TTL of rebuilding a lost bucket
                    due = min(due, ctx.recovered_at + config.presence_ttl_seconds)
                elif disconnected_at is not None:
                    due = min(due, disconnected_at + config.agent_grace_seconds)
        return due

    async def republish(self) -> None:
        """Write our sessions' entries again into a bucket that was lost, as they stood."""
        for session in self.sessions.values():
            state = session.state
            if state.phase is sm.Phase.ENDED:
                continue
            entry = QueueEntry(
                sid=session.sid,
                account_id=session.account_id,
                since=session.queued_since,
                proc=self._ctx.proc,
                rank=RANK_REQUEUED if state.requeued else RANK_NEW,
                team=session.team,
            )
            if state.phase is sm.Phase.ASSIGNED and state.agent is not None:
                entry = entry.assign(state.agent, now=self._ctx.clock())
            await self._ctx.directory.put_queue(entry, revision=0)
            await self._seats.republish(session.sid, session.seats)

    # -- messages from the specialist's process ---------------------------------------------------

    async def _on_relay(self, session: UserSession, payload: dict[str, Any], msg: Msg) -> None:
        await session.announced.wait()
        event = relay_event(payload, now=self._ctx.clock())
        if event is None:
            return
        try:
            if (
                isinstance(event, sm.SpecialistJoined | sm.CardAsked)
                and self.sessions.get(session.sid) is not session
            ):
                raise IllegalTransition(sm.Phase.ENDED, type(event).__name__)  # closed meanwhile
            await self._driver.drive(session, event, msg=msg)
        except IllegalTransition:
            if isinstance(event, _ASKED):
                await self._ctx.relay.reply(msg, {"ok": False})

    async def _requeue(self, session: UserSession) -> None:
        """The specialist is gone: back to the head of the queue, keeping the original waiting time."""
        now = self._ctx.clock()
        sm.transition(session.state, sm.SpecialistGone(now))  # may it happen now? (raises if not)
        directory = self._ctx.directory
        current = directory.queue.get(session.sid)
        if current is None:
            entry = QueueEntry(
                sid=session.sid,
                account_id=session.account_id,
                since=session.queued_since,
                proc=self._ctx.proc,
                team=session.team,
            )
            revision = await directory.put_queue(entry.requeue(), revision=0)
        else:
            revision = await directory.put_queue(current.value.requeue(), revision=current.revision)
        if revision is None:
            return  # changed under us; the next tick looks again
        log.info("chat_requeued", session=session.sid)
        with contextlib.suppress(IllegalTransition):  # from the state as it is now: it may have ended
            await self._driver.drive(session, sm.SpecialistGone(now))
        self._ctx.dirty.set()

    async def _outside_hours(self, intake: Intake, closed: OutsideHours, send: Send) -> None:
        draft = Transcript(max_lines=self._ctx.config.transcript_max_lines).draft(
            intake, topic=closed.topic, importance="normal"
        )
        log.info("chat_outside_hours", topic=closed.topic)
        due = closed.first_response_due
        await send(
            out.OutsideHours(
                topic=closed.topic,
                opens_at=closed.opens_at.isoformat() if closed.opens_at else None,
                first_response_due=due.isoformat() if due else None,
                draft=draft_frame(draft),
            )
        )


def relay_event(payload: dict[str, Any], *, now: float) -> sm.Event | None:
    """What a relay message from a specialists' process means for the chat; None: nothing known."""
    kind = payload.get("t")
    akey = payload.get("akey")
    agent = akey if isinstance(akey, str) else ""
    if kind == "card":
        return sm.CardAsked()
    if kind == "assign":
        if not agent:
            return None
        specialist = str(payload.get("sub", agent))[:128] or agent
        return sm.SpecialistJoined(agent, str(payload.get("name", ""))[:200], specialist, now)
    if kind == "offer":
        return sm.SpecialistOffered(agent)
    if kind == "msg":
        return sm.SpecialistSaid(agent, str(payload.get("text", "")))
    if kind == "typing":
        return sm.SpecialistTyped(agent)
    if kind == "end":
        return sm.SpecialistEnded(agent, now)
    return None
