"""The four services, in the order `helpdesk up` starts them."""

from __future__ import annotations

import importlib
from typing import Any

from shared.service import ServiceDefinition

PACKAGES = {
    "tickets": "tickets",
    "notifications": "notifications",
    "chat": "chat",
    "kb-search": "kb_search",
}


def definition(name: str) -> ServiceDefinition[Any]:
    module = importlib.import_module(f"{PACKAGES[name]}.bootstrap")
    service = module.SERVICE
    assert isinstance(service, ServiceDefinition)
    return service


def all_definitions() -> list[ServiceDefinition[Any]]:
    return [definition(name) for name in PACKAGES]
