"""The command endpoints of the tickets API (`/api/v1/tickets/...`) and the topics list.

Reads (the lists, one ticket's timeline) live in `http_history.py`. Every command answers with the
ticket id, number, aggregate version (also as `ETag`) and the store position its events were written
at, which is what a client needs for read-your-writes and for `If-Match` on its next change.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from shared.auth import CurrentUser
from shared.errors import ErrorBody, Forbidden, Unprocessable
from shared.logging import bind_context, get_logger
from shared.parsing import expected_version
from shared.ratebudgets import Action
from shared.ratelimit import limited
from tickets.adapters.attachments import ALLOWED_TYPES, allowed_extensions, content_disposition
from tickets.application import commands
from tickets.domain.values import COMMENT_MAX, MESSAGE_MAX, Importance
from tickets.entrypoints.http_deps import (
    AgentChange,
    Attachments,
    FormChange,
    IfMatch,
    Service,
    Settings,
    caller_of,
)
from tickets.entrypoints.http_directory import choose_language, directory_of
from tickets.entrypoints.http_models import (
    DEFAULT_IMPORTANCE,
    AssigneeIn,
    CommandAccepted,
    NewRequestForm,
    NoteIn,
    PriorityIn,
    ReplyForm,
    RequestForm,
    StatusIn,
    Topic,
    TopicIn,
    TopicList,
)

log = get_logger(__name__)

PREFIX = "/api/v1"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 412, 413, 415, 422, 429, 503)
}


async def language_of(  # async: a plain function would be run on the thread pool
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
    form: FormChange,
    fields: Annotated[NewRequestForm, Form(media_type="multipart/form-data")],
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> CommandAccepted:
    caller = form.caller()
    account_id = fields.account_id
    if caller.account_id is not None:
        if account_id not in (None, caller.account_id):
            raise Forbidden("a user creates requests for their own account only")
        account_id = caller.account_id
    elif not account_id:
        raise Unprocessable("support must name the account the request is for")
    upload = await form.upload()
    topic = fields.topic
    if topic.strip() not in (await directory_of(request).current()).topics:
        raise Unprocessable(f"unknown topic {topic!r}: see GET /api/v1/topics")
    owner = account_id
    result, _ = await form.run(
        upload,
        lambda file: commands.CreateTicket(
            caller=caller,
            account_id=owner,
            topic=topic,
            importance=fields.importance,
            comment=fields.comment,
            message=fields.message,
            file=file,
            idempotency_key=idempotency_key,
        ),
    )
    bind_context(ticket_id=str(result.ticket_id), ticket_number=result.number)
    log.info("ticket_created", created=result.created, version=result.version)
    if not result.created:
        response.status_code = 200
    return form.accepted(result)


@router.post(
    "/tickets/{ticket_id}/replies",
    status_code=201,
    response_model=CommandAccepted,
    summary="Reply with text and/or one file",
    dependencies=[limited(Action.REPLY)],
)
async def reply(
    ticket_id: UUID,
    form: FormChange,
    fields: Annotated[ReplyForm, Form(media_type="multipart/form-data")],
    if_match: IfMatch = None,
) -> CommandAccepted:
    bind_context(ticket_id=str(ticket_id))
    caller = form.caller()
    text = fields.text
    version = expected_version(if_match)
    upload = await form.upload()
    if upload is None and not text.strip():
        raise Unprocessable("a reply needs text or a file")
    if upload is not None:
        await form.service.ticket(caller, ticket_id)  # access first: no stranger's bytes get stored
    result, with_file = await form.run(
        upload,
        lambda file: commands.Reply(
            caller=caller, ticket_id=ticket_id, text=text, file=file, expected_version=version
        ),
    )
    log.info("ticket_replied", version=result.version, with_file=with_file)
    return form.accepted(result)


@router.post(
    "/tickets/{ticket_id}/notes", status_code=201, response_model=CommandAccepted, summary="Internal note"
)
async def add_note(body: NoteIn, change: AgentChange) -> CommandAccepted:
    return await change.run(commands.AddInternalNote, text=body.text)


@router.post("/tickets/{ticket_id}/status", response_model=CommandAccepted, summary="Change the status")
async def change_status(body: StatusIn, change: AgentChange) -> CommandAccepted:
    return await change.run(commands.ChangeStatus, status=body.status, reason=body.reason)


@router.post("/tickets/{ticket_id}/topic", response_model=CommandAccepted, summary="Re-assign the topic")
async def change_topic(body: TopicIn, change: AgentChange) -> CommandAccepted:
    return await change.run(commands.ChangeTopic, topic=body.topic)


@router.post("/tickets/{ticket_id}/priority", response_model=CommandAccepted, summary="Set the priority")
async def change_priority(body: PriorityIn, change: AgentChange) -> CommandAccepted:
    return await change.run(commands.ChangePriority, priority=body.priority)


@router.post("/tickets/{ticket_id}/assignee", response_model=CommandAccepted, summary="Assign an agent")
async def assign(body: AssigneeIn, change: AgentChange) -> CommandAccepted:
    me = change.caller.actor
    if body.to_self and body.assignee_id not in (None, me.id):
        raise Unprocessable("give either to_self or assignee_id, not both")
    assignee_id = me.id if body.to_self else body.assignee_id
    name = me.name if body.to_self else body.assignee_name
    return await change.run(commands.Assign, assignee_id=assignee_id, assignee_name=name or None)


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
