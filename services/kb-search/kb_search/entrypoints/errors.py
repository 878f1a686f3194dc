"""Domain and messaging failures of the kb-search routes → the shared error shape: the service's one
mapping, registered on the app by the composition root (`shared.errors.install_error_mapping`)."""

from __future__ import annotations

from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import ServiceUnavailableError

from kb_search.domain.errors import (
    ArticleAlreadyPublished,
    ArticleNotFound,
    InvalidArticle,
    InvalidSection,
    SectionAlreadyExists,
    SectionNotFound,
    UnknownSection,
    VersionConflict,
)
from shared.errors import (
    ApiError,
    Conflict,
    ErrorDetail,
    ErrorMapping,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    Unprocessable,
    with_message,
)


def _details(problems: list[str], kind: str) -> list[ErrorDetail]:
    """Domain problems (`field: what is wrong`) as error details naming the field."""
    details = []
    for problem in problems:
        name, sep, message = problem.partition(": ")
        named = sep and name.replace(".", "").isidentifier()
        loc: list[str | int] = ["body", *name.split(".")] if named else ["body"]
        details.append(ErrorDetail(loc=loc, msg=message if len(loc) > 1 else problem, type=kind))
    return details


def _unknown_section(exc: UnknownSection) -> ApiError:
    detail = ErrorDetail(loc=["body", "section"], msg=str(exc), type="unknown_section")
    return Unprocessable("the article names no live section", details=[detail])


def _version_conflict(exc: VersionConflict) -> ApiError:
    if exc.expected is not None and exc.actual is not None:
        return PreconditionFailed(str(exc))
    return Conflict("it changed at the same time; read it again and retry")


def _stream_unavailable(_: Exception) -> ApiError:
    return ServiceUnavailable("the article stream does not answer; try again")


KB_ERRORS: ErrorMapping = {
    ArticleNotFound: lambda exc: NotFound(f"no article {exc.article_id!r}"),
    SectionNotFound: with_message(NotFound),
    UnknownSection: _unknown_section,
    InvalidArticle: lambda exc: Unprocessable(
        "the article is not valid", details=_details(exc.problems, "invalid_article")
    ),
    InvalidSection: lambda exc: Unprocessable(
        "the section is not valid", details=_details(exc.problems, "invalid_section")
    ),
    ArticleAlreadyPublished: with_message(Conflict),
    SectionAlreadyExists: with_message(Conflict),
    VersionConflict: _version_conflict,
    NatsTimeoutError: _stream_unavailable,
    NoRespondersError: _stream_unavailable,
    ConnectionClosedError: _stream_unavailable,
    ServiceUnavailableError: _stream_unavailable,
}
