"""The four services, in the order `helpdesk up` starts them.

`PACKAGES` is what `helpdesk up` needs of a service before it starts it (its package), without
importing it: a forked service imports its own composition root, in parallel with the others. A unit
test keeps it equal to each `ServiceDefinition`. Where a service's settings read `<PREFIX>PORT` and
`<PREFIX>HOST` follows from its name alone (`shared.service.env_prefix`).
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


def definition(name: str) -> ServiceDefinition[Any]:
    from shared.service import ServiceDefinition

    module = importlib.import_module(f"{PACKAGES[name]}.bootstrap")
    service = module.SERVICE
    assert isinstance(service, ServiceDefinition)
    return service


def all_definitions() -> list[ServiceDefinition[Any]]:
    return [definition(name) for name in PACKAGES]
