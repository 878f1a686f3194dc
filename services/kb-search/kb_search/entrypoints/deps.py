"""What the kb-search routes depend on: the runtime (from `app.state`, built by the composition root),
the query and path parameters they share, and who writes (an editor, with the version they saw)."""

from __future__ import annotations

from typing import Annotated, TypedDict

from fastapi import Depends, Header, Path, Query, Request

from kb_search.application.runtime import KbRuntime
from shared.auth import CurrentUser, EditorUser, Principal, Role
from shared.contracts.envelope import Actor, ActorKind
from shared.contracts.kb import Language
from shared.contracts.kb_v2 import MAX_SECTION_ID_LENGTH, SECTION_ID_PATTERN
from shared.errors import ServiceUnavailable
from shared.parsing import expected_version
from shared.types import TextOnly

MAX_QUERY_LENGTH = 4096


def runtime(request: Request) -> KbRuntime:
    kb = getattr(request.app.state, "kb", None)
    if not isinstance(kb, KbRuntime):
        raise ServiceUnavailable("the knowledge base is starting")
    return kb


def ready_runtime(kb: Annotated[KbRuntime, Depends(runtime)]) -> KbRuntime:
    """The runtime, once this replica's index has replayed the stream (else 503: try another)."""
    if not kb.feed.caught_up:
        raise ServiceUnavailable("the search index of this replica is still being built")
    return kb


Ready = Annotated[KbRuntime, Depends(ready_runtime)]


def reader_runtime(user: CurrentUser, kb: Ready) -> KbRuntime:
    """The ready runtime, for any signed-in user (the reads: search, sections, articles)."""
    return kb


Reading = Annotated[KbRuntime, Depends(reader_runtime)]
Kb = Annotated[KbRuntime, Depends(runtime)]
QueryText = Annotated[str, Query(max_length=MAX_QUERY_LENGTH, description="What the user typed."), TextOnly]
Lang = Annotated[Language | None, Query(description="Preferred language: its versions come first.")]
IfMatch = Annotated[str | None, Header(description="The version the editor saw.")]
SectionParam = Annotated[
    str, Query(max_length=MAX_SECTION_ID_LENGTH, pattern=SECTION_ID_PATTERN, description="A section id.")
]
SectionPath = Annotated[str, Path(max_length=MAX_SECTION_ID_LENGTH, pattern=SECTION_ID_PATTERN)]


def actor_of(principal: Principal) -> Actor:
    kind = ActorKind.USER if principal.role is Role.USER else ActorKind.AGENT
    return Actor(kind=kind, id=principal.sub, name=principal.name)


class Authored(TypedDict):
    """Who wrote, and the request it came with: the keywords every editor command takes."""

    actor: Actor
    correlation_id: str | None


class Edited(Authored):
    """An editor's change, based on the version they saw (None: any)."""

    expected_version: int | None


def author_of(editor: EditorUser, request: Request) -> Authored:
    return Authored(actor=actor_of(editor), correlation_id=getattr(request.state, "correlation_id", None))


Author = Annotated[Authored, Depends(author_of)]


class Edit:
    """An editor's change; `If-Match` is read (a 422 when malformed) only when the change is made."""

    def __init__(self, author: Authored, if_match: str | None) -> None:
        self.author = author
        self.if_match = if_match

    def based_on(self) -> Edited:
        return Edited(**self.author, expected_version=expected_version(self.if_match))


def edit_of(author: Author, if_match: IfMatch = None) -> Edit:
    return Edit(author, if_match)


Editing = Annotated[Edit, Depends(edit_of)]
