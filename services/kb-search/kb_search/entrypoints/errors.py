"""Domain and messaging failures of the kb-search routes → the shared error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import ServiceUnavailableError

from kb_search.domain.errors import (
    ArticleAlreadyPublished,
    ArticleNotFound,
    InvalidSection,
    SectionAlreadyExists,
    SectionNotFound,
    UnknownSection,
    VersionConflict,
)
from shared.errors import (
    Conflict,
    ErrorDetail,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    Unprocessable,
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


@asynccontextmanager
async def domain_errors() -> AsyncIterator[None]:
    """Domain and messaging failures → the shared error shape."""
    try:
        yield
    except ArticleNotFound as exc:
        raise NotFound(f"no article {exc.article_id!r}") from None
    except SectionNotFound as exc:
        raise NotFound(str(exc)) from None
    except UnknownSection as exc:
        detail = ErrorDetail(loc=["body", "section"], msg=str(exc), type="unknown_section")
        raise Unprocessable("the article names no live section", details=[detail]) from None
    except InvalidSection as exc:
        raise Unprocessable(
            "the section is not valid", details=_details(exc.problems, "invalid_section")
        ) from None
    except (ArticleAlreadyPublished, SectionAlreadyExists) as exc:
        raise Conflict(str(exc)) from None
    except VersionConflict as exc:
        if exc.expected is not None and exc.actual is not None:
            raise PreconditionFailed(str(exc)) from None
        raise Conflict("it changed at the same time; read it again and retry") from None
    except (NatsTimeoutError, NoRespondersError, ConnectionClosedError, ServiceUnavailableError):
        raise ServiceUnavailable("the article stream does not answer; try again") from None
