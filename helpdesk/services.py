"""The four services, in the order `helpdesk up` starts them.

`PACKAGES` and `ENV_PREFIXES` are what `helpdesk up` needs of a service before it starts it (its
package, where its settings read `<PREFIX>PORT` and `<PREFIX>HOST`), without importing it: a forked
service imports its own composition root, in parallel with the others. A unit test keeps them equal
to each `ServiceDefinition`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.service import ServiceDefinition

PACKAGES = {
    "tickets": "tickets",
    "notifications": "notifications",
    "chat": "chat",
    "kb-search": "kb_search",
}

ENV_PREFIXES = {
    "tickets": "HELPDESK_TICKETS_",
    "notifications": "HELPDESK_NOTIFICATIONS_",
    "chat": "HELPDESK_CHAT_",
    "kb-search": "HELPDESK_KB_SEARCH_",
}


def definition(name: str) -> ServiceDefinition[Any]:
    from shared.service import ServiceDefinition

    module = importlib.import_module(f"{PACKAGES[name]}.bootstrap")
    service = module.SERVICE
    assert isinstance(service, ServiceDefinition)
    return service


def all_definitions() -> list[ServiceDefinition[Any]]:
    return [definition(name) for name in PACKAGES]
