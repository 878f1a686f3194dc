"""`helpdesk up` starts services from a table that imports none of them: it must not drift from them."""

from __future__ import annotations

from helpdesk import services


def test_the_table_up_starts_services_from_agrees_with_each_service_definition() -> None:
    assert list(services.ENV_PREFIXES) == list(services.PACKAGES)
    for definition in services.all_definitions():
        assert services.PACKAGES[definition.name] == definition.package
        assert services.ENV_PREFIXES[definition.name] == definition.env_prefix
    assert [d.name for d in services.all_definitions()] == list(services.PACKAGES)
