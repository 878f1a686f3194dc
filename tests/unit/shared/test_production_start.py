"""A production process refuses to start without a PostgreSQL DSN or NATS credentials, naming what is
missing; development and test settings (the embedded default, the test suite) are not affected."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from chat.settings import ChatSettings
from notifications.settings import NotificationsSettings
from shared.settings import CommonSettings, Environment
from tickets.settings import TicketsSettings

pytestmark = pytest.mark.unit

STRONG = "p" * 48


def production(**overrides: object) -> CommonSettings:
    return CommonSettings.model_validate(
        {"environment": Environment.PRODUCTION, "jwt_secret": STRONG, **overrides}
    )


def test_a_store_owning_service_without_a_dsn_or_nats_credentials_names_both() -> None:
    problems = TicketsSettings(common=production()).production_problems()
    assert len(problems) == 2
    assert problems[0].startswith("HELPDESK_TICKETS_POSTGRES_DSN is not set")
    assert "HELPDESK_NATS_USER" in problems[1]
    with pytest.raises(SystemExit, match="tickets refuses to start in production"):
        TicketsSettings(common=production()).refuse_to_start_if_undeployable("tickets")


@pytest.mark.parametrize(
    "credentials",
    [
        {"nats_user": "tickets", "nats_password": "a-real-password-0123456789"},
        {"nats_token": "a-real-token-0123456789"},
        {"nats_creds_file": "/var/run/nats/tickets.creds"},
    ],
)
def test_any_kind_of_nats_credentials_with_a_dsn_is_enough(credentials: dict[str, str]) -> None:
    settings = NotificationsSettings(
        common=production(**credentials),
        postgres_dsn=SecretStr("postgresql://app:pw@pg/helpdesk"),
        stream_token_secret=SecretStr("s" * 40),
    )
    assert settings.production_problems() == []


def test_a_user_without_its_password_is_not_credentials() -> None:
    (problem,) = ChatSettings(common=production(nats_user="chat")).production_problems()
    assert "NATS credentials" in problem


def test_a_service_without_a_store_needs_no_dsn() -> None:
    settings = ChatSettings(common=production(nats_user="chat", nats_password="a-real-password-0123"))
    assert settings.production_problems() == []


@pytest.mark.parametrize("environment", [Environment.DEVELOPMENT, Environment.TEST])
def test_development_and_test_keep_the_embedded_defaults(environment: Environment) -> None:
    settings = TicketsSettings(common=CommonSettings(environment=environment))
    assert settings.production_problems() == []
    settings.refuse_to_start_if_undeployable("tickets")


def test_the_process_exits_with_the_message_before_it_touches_nats_or_a_disk(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update(HELPDESK_ENVIRONMENT="production", HELPDESK_JWT_SECRET=STRONG, HELPDESK_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "tickets.relay"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "tickets-relay refuses to start in production" in result.stderr
    assert "HELPDESK_TICKETS_POSTGRES_DSN is not set" in result.stderr
    assert list(os.scandir(str(tmp_path))) == []
