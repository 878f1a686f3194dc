"""JSON Schema per public event type and one AsyncAPI 3 document, generated from the contracts.

Every module of `shared.contracts` that defines `DOMAIN`, `SCHEMA_VERSION` and an `EVENT_TYPES` dict
(event type → pydantic data model) is described. The output is checked in under
`shared/contracts/schemas/` and a test compares it with what the code generates, so a contract change
shows up in review. Regenerate with:

    python -m shared.contracts.schema --write
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.contracts import envelope
from shared.contracts.envelope import EventEnvelope
from shared.contracts.subjects import ROOT, event_subject

SCHEMAS_DIR = Path(__file__).parent / "schemas"
ASYNCAPI_FILE = "asyncapi.json"
REGENERATE = "python -m shared.contracts.schema --write"


@dataclass(frozen=True)
class PublicEvent:
    domain: str
    event_type: str
    version: int
    data: type[BaseModel]
    doc: str

    @property
    def key(self) -> str:
        return f"{self.event_type}.v{self.version}"

    @property
    def subject(self) -> str:
        return event_subject(self.domain, self.event_type, self.version)

    @property
    def envelope(self) -> type[BaseModel]:
        return EventEnvelope[self.data]  # type: ignore[name-defined]


def contract_modules() -> Iterator[ModuleType]:
    import shared.contracts as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name in {"schema", "envelope", "subjects"} or info.ispkg:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if all(hasattr(module, name) for name in ("EVENT_TYPES", "DOMAIN", "SCHEMA_VERSION")):
            yield module


def public_events() -> list[PublicEvent]:
    events = []
    for module in contract_modules():
        for event_type, model in module.EVENT_TYPES.items():
            doc = (model.__doc__ or "").strip() or f"`{event_type}`"
            events.append(PublicEvent(module.DOMAIN, event_type, module.SCHEMA_VERSION, model, doc))
    return events


def event_schema(event: PublicEvent) -> dict[str, Any]:
    """The JSON Schema of one event's whole message body (envelope and data)."""
    schema = event.envelope.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://otelms.example/helpdesk/schemas/{event.domain}/{event.key}.json",
        **schema,
        "title": event.key,
        "description": f"{event.doc}\n\nSubject: {event.subject}",
    }


_HEADERS = {
    "type": "object",
    "properties": {
        envelope.HEADER_MSG_ID: {"type": "string", "description": "The event id (JetStream de-duplication)."},
        envelope.HEADER_EVENT_TYPE: {"type": "string"},
        envelope.HEADER_SCHEMA_VERSION: {"type": "string"},
        envelope.HEADER_ACCOUNT_ID: {"type": "string", "description": "Hotel account, for routing."},
        envelope.HEADER_CORRELATION_ID: {"type": "string"},
        envelope.HEADER_CAUSATION_ID: {"type": "string"},
    },
    "required": [envelope.HEADER_MSG_ID, envelope.HEADER_EVENT_TYPE, envelope.HEADER_SCHEMA_VERSION],
}


def asyncapi(events: list[PublicEvent]) -> dict[str, Any]:
    """One AsyncAPI 3.0 document: a channel, a message and a `send` operation per event type."""
    _, definitions = models_json_schema(
        [(e.envelope, "serialization") for e in events], ref_template="#/components/schemas/{model}"
    )
    schemas = definitions.get("$defs", {})
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event in events:
        name = event.key
        payload_name = event.envelope.__name__
        messages[name] = {
            "name": event.event_type,
            "title": name,
            "summary": event.doc.splitlines()[0],
            "contentType": "application/json",
            "headers": _HEADERS,
            "payload": {"$ref": f"#/components/schemas/{_schema_key(schemas, payload_name)}"},
        }
        channels[name] = {
            "address": event.subject,
            "description": f"JetStream stream of the `{event.domain}` domain.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish.{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "OtelMS Helpdesk public events",
            "version": "1.0.0",
            "description": (
                f"Every public event travels in the same envelope on `{ROOT}.<domain>.v<version>.<event>`. "
                "Breaking changes get a new version, published side by side. Generated by "
                f"`{REGENERATE}`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": "nats:4222", "protocol": "nats", "description": "NATS JetStream"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _schema_key(schemas: dict[str, Any], model_name: str) -> str:
    """pydantic names generic models `EventEnvelope_TicketCreated_` in its definitions."""
    candidates = [k for k in schemas if k.replace("_", "") == model_name.replace("[", "").replace("]", "")]
    candidates = candidates or [k for k in schemas if k == model_name]
    if len(candidates) != 1:
        raise LookupError(f"no single schema for {model_name}: {candidates}")
    return candidates[0]


def render(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"


def generate() -> dict[str, str]:
    """Relative path → file content of everything under `schemas/`."""
    events = public_events()
    files = {f"{e.domain}/{e.key}.json": render(event_schema(e)) for e in events}
    files[ASYNCAPI_FILE] = render(asyncapi(events))
    return files


def differences(directory: Path = SCHEMAS_DIR) -> list[str]:
    """Files that are missing, stale or no longer generated."""
    expected = generate()
    present = (
        {str(p.relative_to(directory)) for p in directory.rglob("*.json")} if directory.exists() else set()
    )
    stale = [
        path
        for path, text in expected.items()
        if path not in present or (directory / path).read_text() != text
    ]
    return sorted(stale + [path for path in present if path not in expected])


def write(directory: Path = SCHEMAS_DIR) -> list[str]:
    expected = generate()
    for path in differences(directory):
        target = directory / path
        if path in expected:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(expected[path])
        else:
            target.unlink()
    return sorted(expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.contracts.schema", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--write", action="store_true", help="write the files (default: check them)")
    args = parser.parse_args(argv)
    if args.write:
        written = write()
        sys.stdout.write(f"{len(written)} files in {SCHEMAS_DIR}\n")
        return 0
    stale = differences()
    for path in stale:
        sys.stdout.write(f"out of date: {path}\n")
    if stale:
        sys.stdout.write(f"regenerate with: {REGENERATE}\n")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
