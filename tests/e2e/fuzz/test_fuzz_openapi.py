"""Schemathesis over every service's OpenAPI: for every generated call, whoever calls (user, agent,
editor, no token, a garbage token), the answer is < 500 and every 4xx is the shared error shape.

Each operation is fuzzed twice: with generated path ids (mostly unknown ones) and with the ids of
real, seeded objects, so the generated headers, queries and bodies reach the domain rules too."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Ok

from tests.e2e.fuzz.fuzz_harness import Running, assert_contract, seed

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXAMPLES = 15  # per operation, generation mode and id source: the whole suite stays well under 90 s
# Endpoints that answer a valid caller with an endless stream; the hand-written suite covers them.
STREAMING = {"GET /api/v1/popups/stream", "GET /api/v1/tickets/stream"}  # endless by design
# Callers, the valid roles weighted up so most calls get past authentication.
CALLERS = ["user", "user", "agent", "agent", "editor", "none", "garbage"]
Headers = dict[str, dict[str, str]]


def fuzz_operation(
    service: Running,
    operation: APIOperation[Any, Any, Any, Any],
    headers: Headers,
    statuses: Counter[int],
    path_parameters: dict[str, Any] | None,
) -> None:
    """Both generation modes of one operation, each call checked against the contract."""
    session = requests.Session()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        @given(case=strategy, caller=st.sampled_from(CALLERS), kind=st.just(mode.value))
        def check(case: Case[Any], caller: str, kind: str) -> None:
            response = case.call(base_url=service.url, session=session, headers=headers[caller], timeout=15)
            statuses[response.status_code] += 1
            assert_contract(
                response.status_code,
                response.content,
                (response.headers.get("content-type") or [""])[0],
                f"{caller} {kind} {case.as_curl_command()}",
            )

        try:
            check()
        except Unsatisfiable:
            # Nothing to break (no parameters nor body, or every path parameter fixed): fine.
            if mode is GenerationMode.POSITIVE:
                raise


def fuzz(service: Running, headers: Headers, seeds: dict[str, str]) -> dict[str, Counter[int]]:
    """Every operation of `service`; the statuses seen per operation."""
    schema = schemathesis.openapi.from_dict(service.app.openapi())
    seen: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"{service.name}: the OpenAPI does not load: {result.err()}"
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in STREAMING:
            continue
        statuses = seen.setdefault(label, Counter())
        fuzz_operation(service, operation, headers, statuses, None)
        names = [p.name for p in operation.path_parameters]
        if names and all(name in seeds for name in names):
            fixed = {name: seeds[name] for name in names}
            fuzz_operation(service, operation, headers, statuses, fixed)
    return seen


async def run_fuzz(service: Running, headers: Headers) -> None:
    seeds = await seed(service, headers)
    started = time.monotonic()
    seen = await asyncio.wait_for(asyncio.to_thread(fuzz, service, headers, seeds), timeout=120)
    calls = sum(sum(counter.values()) for counter in seen.values())
    print(
        f"\nfuzz {service.name}: {len(seen)} operations, {calls} calls in {time.monotonic() - started:.1f}s"
    )
    for label, counter in seen.items():
        print(f"  {label}: {dict(sorted(counter.items()))}")
    assert seen and all(sum(counter.values()) > 0 for counter in seen.values())
    # The generator got past the edge somewhere: not every call was turned away.
    assert any(status < 400 for counter in seen.values() for status in counter)


async def test_tickets_answers_every_generated_call_without_a_5xx_and_in_the_error_shape(
    tickets: Running, role_headers: Headers
) -> None:
    await run_fuzz(tickets, role_headers)


async def test_notifications_answers_every_generated_call_without_a_5xx_and_in_the_error_shape(
    notifications: Running, role_headers: Headers
) -> None:
    await run_fuzz(notifications, role_headers)


async def test_kb_search_answers_every_generated_call_without_a_5xx_and_in_the_error_shape(
    kb_search: Running, role_headers: Headers
) -> None:
    await run_fuzz(kb_search, role_headers)
