"""The users' side of one chat process: open a chat, wait in the queue, talk, end, keep it as a request.

A user's session lives in the process holding their WebSocket: the intake (name, phone, question) and
the transcript stay in this process's memory and go no further than the specialist's process, over
core NATS. The KV bucket only learns the session id, the account, the state and the times, plus
the seats the session takes (one of its user's, one of its account's) so that neither can open more
chats than allowed, whichever processes they open them on.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from chat.adapters.tickets import TicketsClient
from chat.application.context import HubContext, Send
from chat.application.seats import Seats
from chat.domain import server_frames as out
from chat.domain.conversation import Speaker, TicketDraft, Transcript
from chat.domain.errors import ChatUnavailable, NotAssigned
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
from shared.contracts.chat import ChatAssigned, ChatEnded, ChatEventData, ChatStarted, EndReason
from shared.contracts.envelope import Actor, ActorKind
from shared.logging import get_logger

log = get_logger(__name__)


class SessionState:
    WAITING = "waiting"
    ASSIGNED = "assigned"
    ENDED = "ended"


@dataclass(eq=False)
class UserSession:
    sid: str
    principal: Principal
    intake: Intake
    token: str  # the user's own bearer token, only to create a request on their behalf
    send: Send
    opened_at: float
    transcript: Transcript
    state: str = SessionState.WAITING
    agent_key: str | None = None
    agent_name: str = ""
    waiting_since: float | None = None
    queued_since: float = 0.0  # the queue entry's `since`: the place in the queue, kept on requeue
    waited: float = 0.0
    position: int | None = None
    offered: bool = False
    requeued: bool = False
    messages: int = 0
    converted: bool = False
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


class UserDesk:
    def __init__(self, ctx: HubContext, *, tickets: TicketsClient | None) -> None:
        self._ctx = ctx
        self._tickets = tickets
        self._seats = Seats(ctx)
        self.sessions: dict[str, UserSession] = {}

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
            opened_at=now,
            transcript=Transcript(max_lines=ctx.config.transcript_max_lines),
            waiting_since=now,
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
        except Exception as exc:  # NATS away or the bucket lost: say so, keep the connection
            self.sessions.pop(sid, None)
            if session.subscription is not None:
                with contextlib.suppress(Exception):
                    await session.subscription.unsubscribe()
            await self._seats.release(seats)
            log.warning("chat_not_opened", error=type(exc).__name__)
            raise ChatUnavailable("the chat is not available right now; try again shortly") from None
        online = specialists_online({k: v.value for k, v in ctx.directory.agents.items()})
        place = positions(v.value for v in ctx.directory.queue.values()).get(sid, 1)
        session.position = place
        log.info("chat_opened", session=sid, account_id=session.account_id, specialists_online=online)
        self._emit(session, ChatStarted(specialists_online=online, queue_position=place))
        try:
            await send(out.Queued(session=sid, position=place, specialists_online=online))
            if online == 0:
                await self._offer_request(session, reason="no_specialist_online")
        finally:
            session.announced.set()
        ctx.dirty.set()
        return session

    async def message(self, session: UserSession, text: str) -> None:
        if session.state != SessionState.ASSIGNED or session.agent_key is None:
            raise NotAssigned("no specialist has joined this chat yet")
        relay = self._ctx.relay
        await relay.publish(
            relay.agent_subject(session.agent_key), {"t": "msg", "sid": session.sid, "text": text}
        )
        session.transcript.add(Speaker.USER, text)
        session.messages += 1

    async def typing(self, session: UserSession) -> None:
        if session.state == SessionState.ASSIGNED and session.agent_key is not None:
            relay = self._ctx.relay
            await relay.publish(relay.agent_subject(session.agent_key), {"t": "typing", "sid": session.sid})

    async def create_request(
        self, session: UserSession, *, topic: str | None = None, importance: str | None = None
    ) -> str:
        """Only on the user's explicit request: the chat so far becomes a request in their name."""
        if self._tickets is None:
            raise NotAssigned("turning a chat into a request is not configured")
        draft = self._draft(session, topic=topic, importance=importance)
        key = f"chat-{session.sid}-{len(session.transcript)}"
        number = await self._tickets.create(draft, token=session.token, idempotency_key=key)
        session.converted = True
        log.info("chat_converted_to_request", session=session.sid, ticket_number=number)
        await session.send(out.RequestCreated(number=number))
        if session.state == SessionState.ASSIGNED and session.agent_key is not None:
            relay = self._ctx.relay
            await relay.publish(
                relay.agent_subject(session.agent_key), {"t": "request", "sid": session.sid, "number": number}
            )
        return number

    async def close(self, session: UserSession, *, reason: EndReason = EndReason.USER_LEFT) -> None:
        """The WebSocket closed: the session and everything it held are gone."""
        if self.sessions.pop(session.sid, None) is None:
            return
        try:
            if session.subscription is not None:
                await session.subscription.unsubscribe()
            if session.state != SessionState.ENDED:
                await self._leave(session, reason=reason)
        except Exception as exc:  # NATS away: the entry expires with the TTL and the specialist is told then
            log.warning("chat_close_incomplete", session=session.sid, error=type(exc).__name__)
        log.info("chat_closed", session=session.sid, reason=reason.value)

    # -- what the process does on its own ---------------------------------------------------------

    async def update_positions(self) -> None:
        waiting = [s for s in self.sessions.values() if s.state == SessionState.WAITING]
        if not waiting:
            return
        places = positions(v.value for v in self._ctx.directory.queue.values())
        for session in waiting:
            place = places.get(session.sid)
            if place is not None and place != session.position:
                session.position = place
                await session.send(out.Position(position=place))

    async def check(self) -> None:
        """Offer a request past the maximum wait; take users back whose specialist is gone."""
        now = self._ctx.clock()
        config = self._ctx.config
        agents = self._ctx.directory.agents
        for session in list(self.sessions.values()):
            if session.state == SessionState.WAITING:
                since = session.waiting_since or now
                if not session.offered and now - since >= config.max_wait_seconds:
                    await self._offer_request(session, reason="wait_exceeded")
            elif session.state == SessionState.ASSIGNED and session.agent_key is not None:
                held = agents.get(session.agent_key)
                missing = held is None or session.sid not in self._ctx.directory.queue
                gone = (missing and self._ctx.absence_means_gone()) or (
                    held is not None
                    and not held.value.connected
                    and now - (held.value.disconnected_at or now) >= config.agent_grace_seconds
                )
                if gone:
                    await self._requeue(session)

    async def refresh(self) -> None:
        """Rewrite our entries before the bucket's TTL drops them (a crashed process's do expire)."""
        directory = self._ctx.directory
        for sid in list(self.sessions):
            current = directory.queue.get(sid)
            if current is not None and current.value.proc == self._ctx.proc:
                await directory.put_queue(current.value, revision=current.revision)
        for session in list(self.sessions.values()):
            await self._seats.refresh(session.sid, session.seats)

    async def republish(self) -> None:
        """Write our sessions' entries again into a bucket that was lost, as they stood."""
        for session in self.sessions.values():
            if session.state == SessionState.ENDED:
                continue
            entry = QueueEntry(
                sid=session.sid,
                account_id=session.account_id,
                since=session.queued_since,
                proc=self._ctx.proc,
                rank=RANK_REQUEUED if session.requeued else RANK_NEW,
                team=session.team,
            )
            if session.state == SessionState.ASSIGNED and session.agent_key is not None:
                entry = entry.assign(session.agent_key, now=self._ctx.clock())
            await self._ctx.directory.put_queue(entry, revision=0)
            await self._seats.republish(session.sid, session.seats)

    # -- messages from the specialist's process ---------------------------------------------------

    async def _on_relay(self, session: UserSession, payload: dict[str, Any], msg: Msg) -> None:
        await session.announced.wait()
        kind = payload.get("t")
        akey = payload.get("akey")
        if kind == "assign" and isinstance(akey, str):
            await self._on_assigned(session, akey, payload, msg)
            return
        if kind == "card":
            await self._on_card(session, msg)
            return
        if session.state != SessionState.ASSIGNED or akey != session.agent_key:
            if kind == "offer":
                await self._ctx.relay.reply(msg, {"ok": False})
            return
        if kind == "offer":
            await session.send(out.RequestOffered())
            await self._ctx.relay.reply(msg, {"ok": True})
            return
        if kind == "msg":
            text = str(payload.get("text", ""))
            session.transcript.add(Speaker.SPECIALIST, text)
            session.messages += 1
            await session.send(out.SpecialistSaid(text=text))
        elif kind == "typing":
            await session.send(out.SpecialistTyping())
        elif kind == "end":
            await self._ended_by_specialist(session)

    async def _on_assigned(self, session: UserSession, akey: str, payload: dict[str, Any], msg: Msg) -> None:
        if session.state == SessionState.ENDED or self.sessions.get(session.sid) is not session:
            await self._ctx.relay.reply(msg, {"ok": False})
            return
        first = session.state != SessionState.ASSIGNED or session.agent_key != akey
        intake = session.intake
        await self._ctx.relay.reply(
            msg,
            {
                "ok": True,
                "name": intake.name,
                "phone": intake.phone,
                "question": intake.question,
                "account_id": session.account_id,
            },
        )
        if not first:
            return
        now = self._ctx.clock()
        wait = now - (session.waiting_since or now)
        session.waited += wait
        session.state, session.agent_key, session.waiting_since = SessionState.ASSIGNED, akey, None
        session.agent_name = str(payload.get("name", ""))[:200]
        session.position = None
        await session.send(out.Assigned(specialist=out.Specialist(name=session.agent_name)))
        specialist = str(payload.get("sub", akey))[:128] or akey
        self._emit(
            session, ChatAssigned(specialist_id=specialist, wait_seconds=wait, requeued=session.requeued)
        )

    async def _on_card(self, session: UserSession, msg: Msg) -> None:
        """A specialists' process shows the queue: the name and the question, only while waiting."""
        if session.state != SessionState.WAITING or self.sessions.get(session.sid) is not session:
            await self._ctx.relay.reply(msg, {"ok": False})
            return
        intake = session.intake
        await self._ctx.relay.reply(msg, {"ok": True, "name": intake.name, "question": intake.question})

    async def _ended_by_specialist(self, session: UserSession) -> None:
        await self._leave(session, reason=EndReason.SPECIALIST_ENDED)
        draft = self._draft(session)
        await session.send(out.Ended(reason="specialist_ended", draft=_draft_frame(draft)))

    async def _requeue(self, session: UserSession) -> None:
        """The specialist is gone: back to the head of the queue, keeping the original waiting time."""
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
        session.state, session.agent_key, session.agent_name = SessionState.WAITING, None, ""
        session.waiting_since, session.requeued, session.position = self._ctx.clock(), True, None
        log.info("chat_requeued", session=session.sid)
        await session.send(out.SpecialistLeft(requeued=True))
        self._ctx.dirty.set()

    async def _leave(self, session: UserSession, *, reason: EndReason) -> None:
        ctx = self._ctx
        now = ctx.clock()
        if session.state == SessionState.WAITING and session.waiting_since is not None:
            session.waited += now - session.waiting_since
        session.state = SessionState.ENDED
        # Deleting the entry is how the specialist's process learns the user left (`user_left`).
        await ctx.directory.delete_queue(session.sid)
        seats, session.seats = session.seats, ()
        await self._seats.release(seats)
        self._emit(
            session,
            ChatEnded(
                reason=reason,
                wait_seconds=session.waited,
                duration_seconds=now - session.opened_at,
                messages=session.messages,
                converted_to_request=session.converted,
            ),
        )
        ctx.dirty.set()

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
                draft=_draft_frame(draft),
            )
        )

    async def _offer_request(self, session: UserSession, *, reason: out.OfferReason) -> None:
        session.offered = True
        draft = self._draft(session)
        await session.send(out.NoSpecialist(reason=reason, draft=_draft_frame(draft)))

    def _draft(
        self, session: UserSession, *, topic: str | None = None, importance: str | None = None
    ) -> TicketDraft:
        return session.transcript.draft(
            session.intake,
            topic=topic or session.topic or self._ctx.config.ticket_topic,
            importance=importance or "normal",
        )

    def _emit(self, session: UserSession, data: ChatEventData) -> None:
        session.events += 1
        actor = Actor(kind=ActorKind.USER, id=session.principal.sub)
        self._ctx.stats.emit(
            data, sid=session.sid, version=session.events, account_id=session.account_id, actor=actor
        )


def _draft_frame(draft: TicketDraft) -> out.Draft:
    return out.Draft(**draft.as_form())
