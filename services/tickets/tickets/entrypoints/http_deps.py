"""What the tickets command routes depend on: the caller, the application service, the attachment
store and the settings (from `app.state`, built by the composition root), and the two shapes of a
command: a support change based on a version, and a form with at most one file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Request, Response, UploadFile
from starlette.datastructures import UploadFile as StarletteUpload

from shared.auth import AgentUser, CurrentUser, Principal, Role
from shared.errors import Forbidden, PayloadTooLarge, Unprocessable
from shared.logging import bind_context, get_logger
from shared.parsing import expected_version
from shared.ratebudgets import Action
from shared.ratelimit import limiter_of
from shared.settings import Environment
from shared.tracing import current_trace_parent
from tickets.adapters.attachments import AttachmentStore, StoredFile
from tickets.application.commands import Caller, Command, CommandResult, FileUpload
from tickets.application.service import TicketService
from tickets.domain.values import Actor, ActorKind
from tickets.entrypoints.http_models import CommandAccepted
from tickets.entrypoints.last_write import remember_write
from tickets.settings import TicketsSettings

log = get_logger(__name__)


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
    # `vars`, not `asdict`: the fields are flat values, and asdict deep-copies each one (a UUID too).
    return CommandAccepted(id=result.ticket_id, **vars(result))


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


@dataclass(frozen=True)
class FormCommand:
    """What the two form commands (create, reply) share: the caller, the form's one file, the store
    its bytes go to, and the answer's headers."""

    request: Request
    response: Response
    principal: Principal
    service: TicketService
    attachments: AttachmentStore
    settings: TicketsSettings

    def caller(self) -> Caller:
        return caller_of(self.principal, self.request)

    async def upload(self) -> UploadFile | None:
        return await single_upload(self.request, self.settings, self.principal)

    async def run(
        self, upload: UploadFile | None, command: Callable[[FileUpload | None], Command]
    ) -> tuple[CommandResult, bool]:
        """Store the file, run the command made with it; the result and whether a file came along."""
        stored = await store_upload(upload, self.attachments)
        result = await run_with_file(self.service, self.attachments, command(as_file(stored)), stored)
        return result, stored is not None

    def accepted(self, result: CommandResult) -> CommandAccepted:
        return accepted(result, self.response, secure_cookie=production(self.settings))


async def form_command(request: Request, response: Response, principal: CurrentUser) -> FormCommand:
    # The service, the attachment store and the settings straight from `app.state` (as `service_of`
    # and its siblings read them): three dependencies fewer for FastAPI to solve on every create.
    state = request.app.state
    return FormCommand(
        request=request,
        response=response,
        principal=principal,
        service=state.tickets,
        attachments=state.attachments,
        settings=state.settings,
    )


FormChange = Annotated[FormCommand, Depends(form_command)]
