"""The command endpoints of the tickets API (`/api/v1/tickets/...`) and the topics list.

Reads (the lists, one ticket's timeline) live in `http_history.py`. Every command answers with the
ticket id, number, aggregate version (also as `ETag`) and the store position its events were written
at, which is what a client needs for read-your-writes and for `If-Match` on its next change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile as StarletteUpload

from shared.auth import AgentUser, CurrentUser, Principal, Role
from shared.errors import ErrorBody, Forbidden, PayloadTooLarge, Unprocessable
from shared.logging import bind_context, get_logger
from shared.parsing import expected_version
from shared.ratelimit import Action, limited, limiter_of
from shared.settings import Environment
from shared.tracing import current_trace_parent
from shared.types import TextOnly
from tickets.adapters.attachments import (
    ALLOWED_TYPES,
    AttachmentStore,
    StoredFile,
    allowed_extensions,
    content_disposition,
)
from tickets.application.commands import (
    AddInternalNote,
    Assign,
    Caller,
    ChangePriority,
    ChangeStatus,
    ChangeTopic,
    Command,
    CommandResult,
    CreateTicket,
    FileUpload,
    Reply,
)
from tickets.application.service import TicketService
from tickets.domain.values import COMMENT_MAX, MESSAGE_MAX, Actor, ActorKind, Importance
from tickets.entrypoints.http_directory import choose_language, directory_of
from tickets.entrypoints.http_models import (
    AssigneeIn,
    CommandAccepted,
    NoteIn,
    PriorityIn,
    RequestForm,
    StatusIn,
    Topic,
    TopicIn,
    TopicList,
)
from tickets.entrypoints.last_write import remember_write
from tickets.settings import TicketsSettings

log = get_logger(__name__)

PREFIX = "/api/v1"
DEFAULT_IMPORTANCE = Importance.NORMAL
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 412, 413, 415, 422, 429, 503)
}


def caller_of(principal: Principal, request: Request) -> Caller:
    correlation = getattr(request.state, "correlation_id", None)
    trace_parent = current_trace_parent()
    if principal.role is Role.AGENT:
        actor = Actor(kind=ActorKind.AGENT, id=principal.sub, name=principal.name)
        return Caller(actor=actor, account_id=None, correlation_id=correlation, trace_parent=trace_parent)
    if principal.role is Role.USER and principal.account_id:
        actor = Actor(kind=ActorKind.USER, id=principal.sub, name=principal.name)
        account = principal.account_id
        return Caller(actor=actor, account_id=account, correlation_id=correlation, trace_parent=trace_parent)
    raise Forbidden("requests are for hotel users and support agents")


async def service_of(request: Request) -> TicketService:
    service: TicketService = request.app.state.tickets
    return service


async def attachments_of(request: Request) -> AttachmentStore:
    store: AttachmentStore = request.app.state.attachments
    return store


async def settings_of(request: Request) -> TicketsSettings:
    settings: TicketsSettings = request.app.state.settings
    return settings


Service = Annotated[TicketService, Depends(service_of)]
Attachments = Annotated[AttachmentStore, Depends(attachments_of)]
Settings = Annotated[TicketsSettings, Depends(settings_of)]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="The ticket version the change is based on.")
]


@dataclass(frozen=True)
class SupportChange:
    """What every support-only change shares: who, which ticket, based on which version."""

    ticket_id: UUID
    caller: Caller
    expected_version: int | None
    service: TicketService
    response: Response
    secure_cookie: bool

    async def run(self, command_type: Callable[..., Command], **fields: Any) -> CommandAccepted:
        command = command_type(
            caller=self.caller, ticket_id=self.ticket_id, expected_version=self.expected_version, **fields
        )
        result = await self.service.execute(command)
        log.info(
            "ticket_changed", command=type(command).__name__, version=result.version, changed=result.changed
        )
        return accepted(result, self.response, secure_cookie=self.secure_cookie)


async def support_change(
    ticket_id: UUID,
    request: Request,
    response: Response,
    principal: AgentUser,
    service: Service,
    if_match: IfMatch = None,
) -> SupportChange:
    bind_context(ticket_id=str(ticket_id))
    return SupportChange(
        ticket_id=ticket_id,
        caller=caller_of(principal, request),
        expected_version=expected_version(if_match),
        service=service,
        response=response,
        secure_cookie=production(request.app.state.settings),
    )


AgentChange = Annotated[SupportChange, Depends(support_change)]


def production(settings: TicketsSettings) -> bool:
    return settings.common.environment is Environment.PRODUCTION


def accepted(result: CommandResult, response: Response, *, secure_cookie: bool) -> CommandAccepted:
    """The command's answer: its ETag and the read-your-writes cookie (`last_write.py`) on `response`."""
    response.headers["ETag"] = f'"{result.version}"'
    remember_write(response, ticket_id=result.ticket_id, version=result.version, secure=secure_cookie)
    return CommandAccepted(id=result.ticket_id, **asdict(result))


async def single_upload(
    request: Request, settings: TicketsSettings, principal: Principal
) -> UploadFile | None:
    """The form's one file: a second file, under any field name, is a 422 (never silently dropped);
    a file counts against the caller's upload limit (429)."""
    form = await request.form()  # already parsed by FastAPI for this route: cached, not read twice
    files = [value for _, value in form.multi_items() if isinstance(value, StarletteUpload)]
    if len(files) > 1:
        raise Unprocessable("at most one file per message")
    if not files:
        return None
    upload = files[0]
    if upload.size is not None and upload.size > settings.max_file_bytes:
        raise PayloadTooLarge(f"the file is larger than {settings.max_file_bytes} bytes")
    if upload.size == 0 and not upload.filename:
        return None  # an empty file input that browsers send when nothing was chosen
    await limiter_of(request.app).hit(Action.UPLOAD, principal)
    return upload  # type: ignore[return-value]


async def store_upload(upload: UploadFile | None, attachments: AttachmentStore) -> StoredFile | None:
    if upload is None:
        return None
    return await attachments.put(source=upload.file, filename=upload.filename)


def as_file(stored: StoredFile | None) -> FileUpload | None:
    if stored is None:
        return None
    return FileUpload(**asdict(stored))  # the same fields, handed from the adapter to the application


async def run_with_file(
    service: TicketService, attachments: AttachmentStore, command: Command, stored: StoredFile | None
) -> CommandResult:
    """Run a command whose file is already stored; drop the file's bytes if they were not recorded."""
    try:
        result = await service.execute(command)
    except BaseException:
        if stored is not None:
            await attachments.delete(stored.object_name)
        raise
    if stored is not None and result.attachment_id != stored.attachment_id:
        await attachments.delete(stored.object_name)  # an idempotent repeat: the first file stands
    return result


def language_of(
    lang: Annotated[str | None, Query(description="uk, ru, en or pl; else Accept-Language.")] = None,
    accept_language: Annotated[str | None, Header(alias="Accept-Language", include_in_schema=False)] = None,
) -> str:
    return choose_language(lang, accept_language)


TopicWords = Annotated[str, Depends(language_of)]


async def topic_choices(request: Request, language: str) -> list[Topic]:
    """The directory's topics in `language`, each with whether it is answered now and the first
    answer a request filed now would be promised, per importance."""
    view = await directory_of(request).current()
    now = request.app.state.clock()
    topics = []
    for spec in view.document.topics:
        status = view.status(spec.id, now)
        promised = {i.value: view.first_response_due(spec.id, i.value, now) for i in Importance}
        topics.append(
            Topic(
                id=spec.id,
                name=spec.names.get(language),
                open_now=status.open_now if status else None,
                opens_at=status.opens_at if status else None,
                first_response_due=promised,
            )
        )
    return topics


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["tickets"], responses=ERRORS)

    @router.get("/topics", response_model=TopicList, summary="The topics a request can be filed under")
    async def topics(principal: CurrentUser, request: Request, words: TopicWords) -> TopicList:
        return TopicList(topics=await topic_choices(request, words))

    @router.get(
        "/request-form",
        response_model=RequestForm,
        summary="The new-request form's choices and limits (topics, importance, text and file limits)",
    )
    async def request_form(
        principal: CurrentUser, request: Request, settings: Settings, words: TopicWords
    ) -> RequestForm:
        return RequestForm(
            topics=await topic_choices(request, words),
            importance=list(Importance),
            default_importance=DEFAULT_IMPORTANCE,
            comment_max=COMMENT_MAX,
            message_max=MESSAGE_MAX,
            max_file_bytes=settings.max_file_bytes,
            allowed_types=sorted(ALLOWED_TYPES),
            allowed_extensions=allowed_extensions(),
        )

    @router.post(
        "/tickets",
        status_code=201,
        response_model=CommandAccepted,
        summary="Create a request (multipart form, at most one file)",
        responses={200: {"model": CommandAccepted, "description": "An Idempotency-Key repeat"}},
        dependencies=[limited(Action.CREATE)],
    )
    async def create_ticket(
        request: Request,
        response: Response,
        principal: CurrentUser,
        service: Service,
        attachments: Attachments,
        settings: Settings,
        topic: Annotated[str, Form(min_length=1, max_length=100), TextOnly],
        comment: Annotated[str, Form(min_length=1, max_length=COMMENT_MAX), TextOnly],
        message: Annotated[str, Form(min_length=1, max_length=MESSAGE_MAX), TextOnly],
        importance: Annotated[Importance, Form()] = DEFAULT_IMPORTANCE,
        account_id: Annotated[str | None, Form(max_length=64, description="Support only"), TextOnly] = None,
        file: Annotated[UploadFile | None, File(description="One optional file")] = None,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
        ] = None,
    ) -> CommandAccepted:
        caller = caller_of(principal, request)
        if caller.account_id is not None:
            if account_id not in (None, caller.account_id):
                raise Forbidden("a user creates requests for their own account only")
            account_id = caller.account_id
        elif not account_id:
            raise Unprocessable("support must name the account the request is for")
        upload = await single_upload(request, settings, principal)
        if topic.strip() not in (await directory_of(request).current()).topics:
            raise Unprocessable(f"unknown topic {topic!r}: see GET /api/v1/topics")
        stored = await store_upload(upload, attachments)
        command = CreateTicket(
            caller=caller,
            account_id=account_id,
            topic=topic,
            importance=importance,
            comment=comment,
            message=message,
            file=as_file(stored),
            idempotency_key=idempotency_key,
        )
        result = await run_with_file(service, attachments, command, stored)
        bind_context(ticket_id=str(result.ticket_id), ticket_number=result.number)
        log.info("ticket_created", created=result.created, version=result.version)
        if not result.created:
            response.status_code = 200
        return accepted(result, response, secure_cookie=production(settings))

    @router.post(
        "/tickets/{ticket_id}/replies",
        status_code=201,
        response_model=CommandAccepted,
        summary="Reply with text and/or one file",
        dependencies=[limited(Action.REPLY)],
    )
    async def reply(
        ticket_id: UUID,
        request: Request,
        response: Response,
        principal: CurrentUser,
        service: Service,
        attachments: Attachments,
        settings: Settings,
        if_match: IfMatch = None,
        text: Annotated[str, Form(max_length=MESSAGE_MAX), TextOnly] = "",
        file: Annotated[UploadFile | None, File(description="One optional file")] = None,
    ) -> CommandAccepted:
        bind_context(ticket_id=str(ticket_id))
        caller = caller_of(principal, request)
        version = expected_version(if_match)
        upload = await single_upload(request, settings, principal)
        if upload is None and not text.strip():
            raise Unprocessable("a reply needs text or a file")
        if upload is not None:
            await service.ticket(caller, ticket_id)  # access first: no stranger's bytes get stored
        stored = await store_upload(upload, attachments)
        command = Reply(
            caller=caller, ticket_id=ticket_id, text=text, file=as_file(stored), expected_version=version
        )
        result = await run_with_file(service, attachments, command, stored)
        log.info("ticket_replied", version=result.version, with_file=stored is not None)
        return accepted(result, response, secure_cookie=production(settings))

    @router.post(
        "/tickets/{ticket_id}/notes", status_code=201, response_model=CommandAccepted, summary="Internal note"
    )
    async def add_note(body: NoteIn, change: AgentChange) -> CommandAccepted:
        return await change.run(AddInternalNote, text=body.text)

    @router.post("/tickets/{ticket_id}/status", response_model=CommandAccepted, summary="Change the status")
    async def change_status(body: StatusIn, change: AgentChange) -> CommandAccepted:
        return await change.run(ChangeStatus, status=body.status, reason=body.reason)

    @router.post("/tickets/{ticket_id}/topic", response_model=CommandAccepted, summary="Re-assign the topic")
    async def change_topic(body: TopicIn, change: AgentChange) -> CommandAccepted:
        return await change.run(ChangeTopic, topic=body.topic)

    @router.post("/tickets/{ticket_id}/priority", response_model=CommandAccepted, summary="Set the priority")
    async def change_priority(body: PriorityIn, change: AgentChange) -> CommandAccepted:
        return await change.run(ChangePriority, priority=body.priority)

    @router.post("/tickets/{ticket_id}/assignee", response_model=CommandAccepted, summary="Assign an agent")
    async def assign(body: AssigneeIn, change: AgentChange) -> CommandAccepted:
        me = change.caller.actor
        if body.to_self and body.assignee_id not in (None, me.id):
            raise Unprocessable("give either to_self or assignee_id, not both")
        assignee_id = me.id if body.to_self else body.assignee_id
        name = me.name if body.to_self else body.assignee_name
        return await change.run(Assign, assignee_id=assignee_id, assignee_name=name or None)

    @router.get(
        "/tickets/{ticket_id}/attachments/{attachment_id}",
        response_class=StreamingResponse,
        summary="Download an attachment",
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    async def download(
        ticket_id: UUID,
        attachment_id: UUID,
        request: Request,
        principal: CurrentUser,
        service: Service,
        attachments: Attachments,
    ) -> StreamingResponse:
        ref = await service.attachment(caller_of(principal, request), ticket_id, attachment_id)
        size = await attachments.size_of(ref.object_name)
        return StreamingResponse(
            attachments.stream(ref.object_name),
            media_type=ref.content_type,
            headers={
                "Content-Disposition": content_disposition(ref.filename),
                "Content-Length": str(size),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cache-Control": "private, no-store",
            },
        )

    return router
