"""The request routes (commands, topics and form, history reads) solve every dependency on the event
loop: FastAPI runs a plain function on its thread pool, a hand-over there and back per dependency on
every request, none of which waits for anything here."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tickets.entrypoints import http, http_history

pytestmark = pytest.mark.unit


def dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from dependencies(sub)


@pytest.mark.parametrize("router", [http.router, http_history.router], ids=["commands", "history"])
def test_no_request_route_runs_a_dependency_on_the_thread_pool(router: object) -> None:
    routes = [route for route in router.routes if isinstance(route, APIRoute)]  # type: ignore[attr-defined]
    assert routes
    plain = {
        (route.path, getattr(sub.call, "__qualname__", repr(sub.call)))
        for route in routes
        for sub in dependencies(route.dependant)
        if sub.call is not None and not inspect.iscoroutinefunction(sub.call)
    }
    assert plain == set()
