"""The request, end to end, across real processes (ARCHITECTURE.md "The request, end to end"):
a hotel user files a request, support replies, the popup reaches the user's open tab over SSE, "view
fully" leads back to the request whose timeline shows the reply — and another hotel sees none of it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import Up, dev_token, free_port_base

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    up = Up(tmp_path_factory.mktemp("system") / "data", free_port_base())
    try:
        up.wait_ready()
        yield up
    finally:
        if up.process.poll() is None:
            up.interrupt()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def next_sse_event(lines: Iterator[str], wanted: str, *, timeout: float) -> dict[str, Any]:
    """The data of the next SSE event named `wanted` (the stream sends heartbeats meanwhile)."""
    deadline = time.monotonic() + timeout
    name, data = "", []
    for line in lines:
        if time.monotonic() > deadline:
            break
        if line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data.append(line.partition(":")[2].strip())
        elif line == "":
            if name == wanted and data:
                parsed: dict[str, Any] = json.loads("\n".join(data))
                return parsed
            name, data = "", []
    raise AssertionError(f"no {wanted!r} event within {timeout}s")


def test_a_support_reply_reaches_the_users_open_tab_and_the_history(system: Up, tmp_path: Path) -> None:
    user = dev_token("--role", "user", "--account", "e2e-hotel", "--sub", "reception-1")
    stranger = dev_token("--role", "user", "--account", "other-hotel", "--sub", "reception-1")
    agent = dev_token("--role", "agent", "--sub", "agent-1", "--name", "Olena")
    tickets, notifications = system.url("tickets"), system.url("notifications")

    with httpx.Client(timeout=15) as client:
        created = client.post(
            f"{tickets}/api/v1/tickets",
            data={
                "topic": "other",
                "comment": "Fiscal printer",
                "message": "The PRRO receipt is not printed",
                "importance": "high",
            },
            files={"file": ("receipt.txt", b"printer log: paper jam\n", "text/plain")},
            headers=bearer(user),
        )
        assert created.status_code == 201, created.text
        ticket = created.json()
        ticket_id, number = ticket["id"], ticket["number"]

        # The user's list shows it at once (read-your-writes), the other hotel's list does not.
        consistent = {"ticket_id": ticket_id, "min_version": ticket["version"]}
        mine = client.get(f"{tickets}/api/v1/tickets", params=consistent, headers=bearer(user)).json()
        assert number in [item["number"] for item in mine["items"]]
        theirs = client.get(f"{tickets}/api/v1/tickets", headers=bearer(stranger)).json()
        assert number not in [item["number"] for item in theirs["items"]]
        assert (
            client.get(f"{tickets}/api/v1/tickets/{ticket_id}", headers=bearer(stranger)).status_code == 404
        )

        with client.stream(
            "GET", f"{notifications}/api/v1/popups/stream", headers=bearer(user), timeout=30
        ) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            next_sse_event(lines, "ready", timeout=10)

            reply = client.post(
                f"{tickets}/api/v1/tickets/{ticket_id}/replies",
                data={"text": "Please restart the PRRO app; we reset the shift."},
                headers=bearer(agent),
            )
            assert reply.status_code == 201, reply.text

            raised = next_sse_event(lines, "popup.raised", timeout=20)
            popup = raised["data"]["popup"]
            assert popup["ticket_number"] == number
            assert "restart the PRRO" in popup["text"]

        popups = client.get(f"{notifications}/api/v1/popups", headers=bearer(user)).json()
        assert popup["popup_id"] in json.dumps(popups)
        other_popups = client.get(f"{notifications}/api/v1/popups", headers=bearer(stranger)).json()
        assert popup["popup_id"] not in json.dumps(other_popups)
        stolen = client.post(
            f"{notifications}/api/v1/popups/{popup['popup_id']}/open", headers=bearer(stranger)
        )
        assert stolen.status_code == 404

        opened = client.post(f"{notifications}/api/v1/popups/{popup['popup_id']}/open", headers=bearer(user))
        assert opened.status_code == 200, opened.text
        assert ticket_id in json.dumps(opened.json())

        detail = client.get(
            f"{tickets}/api/v1/tickets/{ticket_id}",
            params={"min_version": reply.json()["version"]},
            headers=bearer(user),
        )
        assert detail.status_code == 200
        assert "restart the PRRO" in detail.text
