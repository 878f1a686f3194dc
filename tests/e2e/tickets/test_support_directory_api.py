"""The support directory over HTTP: the public read (no token), admins' changes with If-Match, and
bad input answered 422 with the field named. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import auth
from tests.support.tickets_api import in_process
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.e2e

KYIV = ZoneInfo("Europe/Kyiv")
URL = "/api/v1/support/directory"
SATURDAY_NOON = datetime(2026, 3, 28, 12, 0, tzinfo=KYIV)


@dataclass
class Directory:
    app: FastAPI
    client: httpx.AsyncClient
    make_token: Callable[..., str]

    def admin(self) -> dict[str, str]:
        return auth(self.make_token(role="admin", account=None, sub="boss", name="Support admin"))

    def user(self) -> dict[str, str]:
        return auth(self.make_token(role="user", account="hotel-a", sub="u1"))

    def at(self, moment: datetime) -> None:
        self.app.state.clock = lambda: moment

    async def read(self, **params: str) -> dict[str, Any]:
        response = await self.client.get(URL, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert response.headers["ETag"] == f'"{body["version"]}"'
        return body


@pytest.fixture
async def directory(
    tickets_settings: TicketsSettings, make_token: Callable[..., str]
) -> AsyncIterator[Directory]:
    async with in_process(tickets_settings) as (app, client):
        yield Directory(app=app, client=client, make_token=make_token)


def topic(body: dict[str, Any], topic_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in body["topics"] if t["id"] == topic_id)
    return found


def services_hours(**changes: Any) -> dict[str, Any]:
    calendar = {
        "id": "services-hours",
        "time_zone": "Europe/Kyiv",
        "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")],
    }
    return {**calendar, **changes}


async def test_the_public_directory_holds_the_products_contacts_and_hours_without_a_token(
    directory: Directory,
) -> None:
    directory.at(SATURDAY_NOON)
    body = await directory.read(lang="uk", tz="Europe/Warsaw")
    assert body["version"] == 1
    assert [(p["country"], p["number"]) for p in body["phones"]] == [
        ("UA", "+38 (044) 390-0014"),
        ("PL", "+48 (22) 390-6200"),
    ]
    assert [e["email"] for e in body["emails"]] == [
        "info@otelms.com",
        "billing@otelms.com",
        "services@otelms.com",
    ]
    services = topic(body, "services")
    assert services["name"] == "Додаткові послуги (БСО, інтернет-еквайринг)"
    assert services["email"] == "services@otelms.com"
    assert not services["open_now"]
    assert {c["time_zone"] for c in body["directory"]["calendars"]} == {"Europe/Kyiv"}
    assert datetime.fromisoformat(services["opens_at"]["utc"]) == datetime(2026, 3, 30, 9, 0, tzinfo=KYIV)
    assert services["opens_at"]["local"] == "2026-03-30T08:00:00+02:00"  # Warsaw is on summer time by then
    assert services["time_zone"] == "Europe/Kyiv"
    assert services["opens_at"]["calendar"] == "2026-03-30T09:00:00+03:00"  # the team's own clock
    assert body["now"]["calendar"] is None and "moscow" not in body["now"]
    billing = topic(body, "payments")
    assert billing["open_now"] and billing["always_open"] and billing["closes_at"] is None
    assert billing["email"] == "billing@otelms.com"


async def test_labels_follow_accept_language(directory: Directory) -> None:
    response = await directory.client.get(URL, headers={"Accept-Language": "pl-PL,pl;q=0.9"})
    assert response.headers["Content-Language"] == "pl"
    assert topic(response.json(), "other")["name"] == "Inne"


async def test_an_admin_changes_hours_based_on_the_version_seen(directory: Directory) -> None:
    directory.at(SATURDAY_NOON)
    weekend = services_hours(weekly=[{"day": "sat", "start": "10:00", "end": "14:00"}])
    response = await directory.client.put(
        f"{URL}/calendars/services-hours", json=weekend, headers={**directory.admin(), "If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'
    assert topic(await directory.read(), "services")["open_now"]

    stale = await directory.client.put(
        f"{URL}/calendars/services-hours",
        json=services_hours(),
        headers={**directory.admin(), "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"]

    for garbled in ('"²"', "1,2", '""'):  # one If-Match parser for every route: a 422 on the header
        bad = await directory.client.put(
            f"{URL}/calendars/services-hours",
            json=services_hours(),
            headers=[
                *((k.encode(), v.encode()) for k, v in directory.admin().items()),
                (b"If-Match", garbled.encode()),
            ],
        )
        assert bad.status_code == 422, (garbled, bad.text)
        assert bad.json()["error"]["details"][0]["loc"] == ["header", "If-Match"]


async def test_only_admins_change_the_directory(directory: Directory) -> None:
    for headers in ({}, directory.user()):
        response = await directory.client.put(
            f"{URL}/calendars/services-hours", json=services_hours(), headers=headers
        )
        assert response.status_code in (401, 403)
    assert (await directory.read())["version"] == 1


@pytest.mark.parametrize(
    ("calendar", "field"),
    [
        (services_hours(weekly=[{"day": "mon", "start": "18:00", "end": "09:00"}]), "weekly[0].end"),
        (services_hours(time_zone="Mars/Olympus"), "time_zone"),
        (
            services_hours(
                weekly=[
                    {"day": "tue", "start": "09:00", "end": "13:00"},
                    {"day": "tue", "start": "12:00", "end": "18:00"},
                ]
            ),
            "weekly[1]",
        ),
    ],
)
async def test_a_broken_calendar_is_a_422_naming_the_field(
    directory: Directory, calendar: dict[str, Any], field: str
) -> None:
    response = await directory.client.put(
        f"{URL}/calendars/services-hours", json=calendar, headers=directory.admin()
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [field] == [d["loc"][-1] for d in error["details"]]
    assert (await directory.read())["version"] == 1


async def test_an_email_that_is_not_one_is_a_422_naming_the_field(directory: Directory) -> None:
    contacts = {
        "phones": [],
        "emails": [{"email": "billing at otelms", "subject": dict.fromkeys(("uk", "ru", "en", "pl"), "x")}],
    }
    response = await directory.client.put(f"{URL}/contacts", json=contacts, headers=directory.admin())
    assert response.status_code == 422
    locs = [d["loc"] for d in response.json()["error"]["details"]]
    assert ["body", "emails", 0, "email"] in locs


async def test_an_unknown_caller_zone_is_a_422_on_tz(directory: Directory) -> None:
    response = await directory.client.get(URL, params={"tz": "Nowhere/Atlantis"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["query", "tz"]


FRIDAY_1730 = datetime(2026, 3, 27, 17, 30, tzinfo=KYIV)


async def file_request(directory: Directory, *, topic: str, importance: str) -> dict[str, Any]:
    data = {
        "topic": topic,
        "comment": "BSO forms",
        "message": "We need new BSO forms.",
        "importance": importance,
    }
    response = await directory.client.post("/api/v1/tickets", data=data, headers=directory.user())
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_request_filed_friday_1730_kyiv_with_a_one_business_hour_target_is_due_monday_0930(
    directory: Directory,
) -> None:
    directory.at(FRIDAY_1730)
    targets = {"low": 1440, "normal": 480, "high": 240, "critical": 60}
    response = await directory.client.put(f"{URL}/response-targets", json=targets, headers=directory.admin())
    assert response.status_code == 200, response.text
    body = await file_request(directory, topic="services", importance="critical")
    assert datetime.fromisoformat(body["first_response_due"]) == datetime(2026, 3, 30, 9, 30, tzinfo=KYIV)
    # A 24/7 topic: one hour later, whatever the day.
    body = await file_request(directory, topic="payments", importance="critical")
    assert datetime.fromisoformat(body["first_response_due"]) == datetime(2026, 3, 27, 18, 30, tzinfo=KYIV)


async def test_due_times_follow_the_hours_an_admin_sets_without_a_restart(directory: Directory) -> None:
    directory.at(FRIDAY_1730)
    saturday = services_hours(weekly=[{"day": "sat", "start": "10:00", "end": "14:00"}])
    response = await directory.client.put(
        f"{URL}/calendars/services-hours", json=saturday, headers=directory.admin()
    )
    assert response.status_code == 200, response.text
    body = await file_request(directory, topic="services", importance="critical")
    assert datetime.fromisoformat(body["first_response_due"]) == datetime(2026, 3, 28, 11, 0, tzinfo=KYIV)


async def test_the_request_form_offers_the_expected_answer_per_topic_and_importance(
    directory: Directory,
) -> None:
    directory.at(FRIDAY_1730)
    response = await directory.client.get(
        "/api/v1/request-form", params={"lang": "ru"}, headers=directory.user()
    )
    assert response.status_code == 200, response.text
    services = next(t for t in response.json()["topics"] if t["id"] == "services")
    assert services["name"].startswith("Дополнительные услуги")
    assert services["open_now"] is True
    assert datetime.fromisoformat(services["first_response_due"]["critical"]) == datetime(
        2026, 3, 30, 9, 30, tzinfo=KYIV
    )


async def test_an_unknown_topic_is_refused(directory: Directory) -> None:
    data = {"topic": "astrology", "comment": "x", "message": "y"}
    response = await directory.client.post("/api/v1/tickets", data=data, headers=directory.user())
    assert response.status_code == 422
