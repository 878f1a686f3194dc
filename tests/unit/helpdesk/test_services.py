"""`helpdesk up` starts services from a table that imports none of them: it must not drift from them.
Where each service reads its settings follows from its name by one rule (`env_prefix`)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from helpdesk import services
from shared.service import define_service, env_prefix
from shared.settings import ServiceSettings


def test_the_table_up_starts_services_from_agrees_with_each_service_definition() -> None:
    for definition in services.all_definitions():
        assert services.PACKAGES[definition.name] == definition.package
    assert [d.name for d in services.all_definitions()] == list(services.PACKAGES)


def test_a_services_env_prefix_is_helpdesk_then_its_name_in_capitals_with_underscores() -> None:
    assert env_prefix("tickets") == "HELPDESK_TICKETS_"
    assert env_prefix("kb-search") == "HELPDESK_KB_SEARCH_"


def test_every_service_definition_and_its_settings_read_the_prefix_of_its_name() -> None:
    for definition in services.all_definitions():
        assert definition.env_prefix == env_prefix(definition.name)
        settings = definition.load_settings
        assert isinstance(settings, type) and issubclass(settings, ServiceSettings)
        assert settings.model_config.get("env_prefix") == env_prefix(definition.name)


class _Elsewhere(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_ELSEWHERE_", extra="ignore", frozen=True)


async def _nothing(_settings: _Elsewhere) -> None:
    return None


def test_a_service_whose_settings_read_another_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="HELPDESK_BILLING_"):
        define_service(
            "billing", settings=_Elsewhere, port=9, create_app=lambda _s: FastAPI(), migrate=_nothing
        )
