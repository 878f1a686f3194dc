"""The history list's queries on both databases: a creation range sorts by last update, page by page."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from tickets.projections.history import TicketChange
from tickets.projections.store import _INSERT_TICKET, ListQuery, _change_sql

pytestmark = pytest.mark.integration

DAY_US = 86_400 * 1_000_000


def fill(store: Any, rows: int) -> list[dict[str, Any]]:
    """`rows` tickets over 10 days, each updated some time after its creation."""
    rng = random.Random(3)
    made = []
    with store._transaction() as cur:
        for n in range(rows):
            created = rng.randrange(10 * DAY_US)
            ticket_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            row: dict[str, Any] = {
                "ticket_id": ticket_id,
                "account_id": f"hotel-{n % 3}",
                "number": f"HD-{n:06d}",
                "topic": "reports",
                "status": rng.choice(["new", "closed"]),
                "importance": "normal",
                "comment": "c",
                "created_us": created,
                "version": 1,
                "first_response_due_us": None,
            }
            store._execute(cur, _INSERT_TICKET, row)
            updated = created + rng.randrange(5 * DAY_US)
            store._execute(cur, *_change_sql(TicketChange(ticket_id, 2, updated)))
            made.append({**row, "updated_us": updated})
    return made


def pages(store: Any, query: ListQuery) -> list[str]:
    """Every page of `query` (keyset cursor), concatenated: the ids in the order the API shows them."""
    seen: list[str] = []
    after = None
    while True:
        rows = store.list_tickets(ListQuery(**{**vars(query), "after": after}))
        seen += [r["ticket_id"] for r in rows]
        if len(rows) < query.limit:
            return seen
        after = (rows[-1]["updated_us"], rows[-1]["ticket_id"])


@pytest.mark.parametrize(
    ("days", "filters"),
    [((3, 4), {}), ((2, 9), {"statuses": ["closed"]}), ((0, 1), {"account_id": "hotel-1"}), ((1, 8), {})],
)
def test_a_creation_range_lists_exactly_its_tickets_newest_update_first_on_every_page(
    store_factory: Any, days: tuple[int, int], filters: dict[str, Any]
) -> None:
    store = store_factory()
    made = fill(store, 300)
    start, end = days[0] * DAY_US, days[1] * DAY_US
    query = ListQuery(created_from_us=start, created_to_us=end, limit=7, **filters)
    expected = sorted(
        (
            r
            for r in made
            if start <= r["created_us"] < end
            and r["account_id"] == filters.get("account_id", r["account_id"])
            and r["status"] in filters.get("statuses", [r["status"]])
        ),
        key=lambda r: (r["updated_us"], r["ticket_id"]),
        reverse=True,
    )
    assert len(expected) > 7  # more than one page
    assert pages(store, query) == [r["ticket_id"] for r in expected]
