"""The NATS accounts and per-service permissions, generated from the code that uses the subjects.

    python -m helpdesk.natsaccounts            write deploy/nats/accounts.yaml
    python -m helpdesk.natsaccounts --check    exit 1 if the committed file is not what the code says
    python -m helpdesk.natsaccounts --conf     print the same accounts as a nats-server config

Nothing here is a hand-kept list of subjects. What each service may publish and subscribe to follows
from the definitions it uses:
- every `StreamSpec` constant in `shared` (the contracts' event streams and shared infrastructure such
  as the rate limiter's): its subjects and its `$JS.API` subjects. A service reads a stream when its
  package names the spec (`TICKETS_STREAM`, `stream_of("tickets")`), imports a contract module of its
  domain or the shared module that defines it; it publishes to it when it owns the stream's domain
  (`OWNERS`); a stream of a domain not listed there is published by every service that uses it, so a
  new stream or bucket is covered by a re-run;
- every settings field or `shared` constant naming a bucket (`*_bucket`, `*_BUCKET`): a KV bucket
  or an object store, depending on which of the two APIs the code that uses it calls;
- every core-NATS subject constant (`*_SUBJECT`, `*_SUBJECT_ROOT` under `helpdesk.`) in the contracts
  or a service's package, for the services that name it;
- request/reply: `_INBOX.>` for every service (JetStream API answers and acks come back there), and
  `allow_responses` for a service that answers requests (`.respond(`).

One account (`HELPDESK`, JetStream on) holds one user per service, `migrate` (creates streams and
buckets) and `subscriber` (other OtelMS services: read the public streams, publish nothing). Passwords
are not here: each is `$HELPDESK_NATS_<USER>_PASSWORD` in the server's environment, from a Secret.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import pkgutil
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

import shared
import shared.contracts
from helpdesk import services
from shared.contracts.subjects import DLQ_STREAM, ROOT, StreamSpec
from shared.settings import CommonSettings

SUBJECTS_MODULE = "shared.contracts.subjects"

ACCOUNT = "HELPDESK"
SYSTEM_ACCOUNT = "SYS"
OUTPUT = Path(__file__).resolve().parents[1] / "deploy" / "nats" / "accounts.yaml"
# Who publishes a domain's public events (ARCHITECTURE.md, "Services and what each owns").
OWNERS = {
    "tickets": "tickets",
    "popups": "notifications",
    "chat": "chat",
    "kb": "kb-search",
    "directory": "tickets",  # the support directory lives in the tickets service
}
# Every consumer dead-letters a poison message, so every service publishes to DEAD_LETTERS.
EVERYONE_PUBLISHES = (DLQ_STREAM.name,)
INBOX = "_INBOX.>"
ALWAYS = ("$JS.API.INFO", "$JS.API.STREAM.NAMES")


def password_variable(user: str) -> str:
    return f"HELPDESK_NATS_{user.upper().replace('-', '_')}_PASSWORD"


@dataclass(frozen=True)
class Stream:
    """A JetStream stream as the server sees it: its name and the subjects published into it."""

    name: str
    subjects: tuple[str, ...]


@dataclass
class Grants:
    publish: set[str] = field(default_factory=set)
    subscribe: set[str] = field(default_factory=set)
    responds: bool = False

    def read(self, stream: Stream) -> None:
        s = stream.name
        self.publish |= {
            f"$JS.API.STREAM.INFO.{s}",
            f"$JS.API.STREAM.MSG.GET.{s}",
            f"$JS.API.DIRECT.GET.{s}",
            f"$JS.API.DIRECT.GET.{s}.>",
            f"$JS.API.CONSUMER.CREATE.{s}",
            f"$JS.API.CONSUMER.CREATE.{s}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{s}.*",
            f"$JS.API.CONSUMER.INFO.{s}.*",
            f"$JS.API.CONSUMER.DELETE.{s}.*",
            f"$JS.API.CONSUMER.MSG.NEXT.{s}.*",
            f"$JS.ACK.{s}.>",
            f"$JS.FC.{s}.>",
        }
        # Core subscriptions on a stream's subjects (live fan-out of the events as they are published).
        self.subscribe |= set(stream.subjects)

    def write(self, stream: Stream) -> None:
        self.publish |= set(stream.subjects)

    def administer(self, stream: Stream) -> None:
        self.publish |= {f"$JS.API.STREAM.CREATE.{stream.name}", f"$JS.API.STREAM.UPDATE.{stream.name}"}

    def bucket(self, stream: Stream) -> None:
        """Read, write, purge and (memory buckets lost with a restarted server) re-create a bucket."""
        self.read(stream)
        self.write(stream)
        self.administer(stream)
        self.publish.add(f"$JS.API.STREAM.PURGE.{stream.name}")

    def core(self, subject: str) -> None:
        self.publish |= {subject, f"{subject}.>"}
        self.subscribe |= {subject, f"{subject}.>"}

    def permissions(self) -> dict[str, Any]:
        permissions: dict[str, Any] = {
            "publish": {"allow": sorted(self.publish | set(ALWAYS))},
            "subscribe": {"allow": sorted(self.subscribe | {INBOX})},
        }
        if self.responds:
            permissions["allow_responses"] = True
        return permissions


@dataclass(frozen=True)
class Defined:
    """A `StreamSpec` as defined in `shared`: the constant's name and the module that defines it."""

    constant: str
    module: str
    spec: StreamSpec


def defined_streams() -> list[Defined]:
    """Every `StreamSpec` constant in `shared` (the contracts and shared infrastructure alike)."""
    found: dict[str, Defined] = {}
    for module in _modules(shared):
        for name, value in vars(module).items():
            if not (isinstance(value, StreamSpec) and name.isupper()):
                continue
            if module.__name__ == SUBJECTS_MODULE or value.name not in found:
                found[value.name] = Defined(name, module.__name__, value)
    return sorted(found.values(), key=lambda d: d.spec.name)


def _contract_modules_of(domain: str) -> list[str]:
    """The contract modules that describe a domain's events (`DOMAIN = "tickets"`)."""
    return [
        m.__name__
        for m in _modules(shared.contracts)
        if getattr(m, "DOMAIN", None) == domain and m.__name__ != SUBJECTS_MODULE
    ]


def uses(source: str, defined: Defined) -> bool:
    """A service uses a stream when its code names it, asks `stream_of` for its domain, imports the
    module that defines it (shared infrastructure) or a contract module of its domain."""
    spec = defined.spec
    modules = _contract_modules_of(spec.domain)
    if defined.module != SUBJECTS_MODULE:
        modules.append(defined.module)
    return (
        names(source, defined.constant)
        or f'stream_of("{spec.domain}")' in source
        or any(names(source, module) for module in modules)
    )


def _modules(package: Any) -> Iterator[Any]:
    yield package
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
        yield importlib.import_module(info.name)


def package_source(package: str) -> str:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, package
    root = Path(next(iter(spec.submodule_search_locations)))
    return "\n".join(p.read_text() for p in sorted(root.rglob("*.py")))


def names(source: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", source) is not None


def settings_class(package: str) -> type[BaseSettings]:
    module = importlib.import_module(f"{package}.settings")
    for value in vars(module).values():
        is_settings = isinstance(value, type) and issubclass(value, BaseSettings)
        if is_settings and value.__module__ == module.__name__:
            return value  # type: ignore[no-any-return]
    raise LookupError(f"no settings class in {module.__name__}")


def _bucket_fields(cls: type[BaseSettings]) -> list[str]:
    return [
        str(f.default)
        for name, f in cls.model_fields.items()
        if name.endswith("_bucket") and isinstance(f.default, str)
    ]


def _shared_constants(suffixes: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """(constant name, value, defining module's source, its name) for `shared` string constants by
    suffix."""
    found = []
    for module in _modules(shared):
        source = Path(module.__file__).read_text() if module.__file__ else ""
        for name, value in vars(module).items():
            if name.isupper() and name.endswith(suffixes) and isinstance(value, str):
                found.append((name, value, source, module.__name__))
    return found


def _bucket_streams(bucket: str, source: str) -> list[Stream]:
    """The streams behind a bucket, by the API the code that uses it calls (KV, object store)."""
    streams = []
    if "key_value(" in source:
        streams.append(Stream(f"KV_{bucket}", (f"$KV.{bucket}.>",)))
    if "object_store(" in source:
        streams.append(Stream(f"OBJ_{bucket}", (f"$O.{bucket}.>",)))
    return streams


def _core_subjects(module_sources: Iterable[tuple[str, Any]]) -> dict[str, str]:
    subjects: dict[str, str] = {}
    for _, module in module_sources:
        for name, value in vars(module).items():
            if (
                name.isupper()
                and name.endswith(("_SUBJECT", "_SUBJECT_ROOT"))
                and isinstance(value, str)
                and value.startswith(f"{ROOT}.")
            ):
                subjects[name] = value
    return subjects


def grants() -> dict[str, Grants]:
    """Each user's grants: one per service, `migrate` and `subscriber`."""
    streams = defined_streams()
    by_service: dict[str, Grants] = {}
    migrate, subscriber = Grants(), Grants()
    # A bucket of a `shared` module (the relays' leases) goes to the services that use that module;
    # one of the common settings to every service.
    shared_buckets = [
        (value, source, module) for _, value, source, module in _shared_constants(("_BUCKET",))
    ] + [(b, _common_bucket_source(), None) for b in _bucket_fields(CommonSettings)]
    for service, package in services.PACKAGES.items():
        source = package_source(package)
        g = Grants(responds=".respond(" in source)
        for defined in streams:
            spec = defined.spec
            stream = Stream(spec.name, tuple(spec.subjects))
            owner = OWNERS.get(spec.domain)
            if spec.name in EVERYONE_PUBLISHES:
                g.write(stream)
            elif owner == service or (owner is None and uses(source, defined)):
                g.read(stream)
                g.write(stream)
                g.administer(stream)
                if "purge_stream(" in source + _module_source(defined.module):
                    g.publish.add(f"$JS.API.STREAM.PURGE.{spec.name}")
            elif uses(source, defined):
                g.read(stream)
        for bucket in _bucket_fields(settings_class(package)):
            for stream in _bucket_streams(bucket, source):
                g.bucket(stream)
        for bucket, bucket_source, module in shared_buckets:
            if module is not None and not names(source, module):
                continue
            for stream in _bucket_streams(bucket, bucket_source):
                g.bucket(stream)
        modules = [(package, importlib.import_module(m.name)) for m in _walk(package)]
        for constant, subject in _core_subjects(
            [("contracts", m) for m in _modules(shared.contracts)] + modules
        ).items():
            if names(source, constant):
                g.core(subject)
        by_service[service] = g
    for defined in streams:
        spec = defined.spec
        stream = Stream(spec.name, tuple(spec.subjects))
        # The migration step creates streams and may write what a service needs first (the default
        # sections of the FAQ, say): everything a service may do to a stream, it may too.
        migrate.read(stream)
        migrate.write(stream)
        migrate.administer(stream)
        if defined.module == SUBJECTS_MODULE and spec.domain in OWNERS:  # the public event streams
            subscriber.read(stream)
    for g in by_service.values():
        for subject in g.publish:
            for prefix in ("$JS.API.STREAM.CREATE.KV_", "$JS.API.STREAM.CREATE.OBJ_"):
                if subject.startswith(prefix):
                    name = subject.removeprefix("$JS.API.STREAM.CREATE.")
                    migrate.bucket(Stream(name, ()))
    return {**by_service, "migrate": migrate, "subscriber": subscriber}


def _module_source(module: str) -> str:
    path = importlib.import_module(module).__file__
    return Path(path).read_text() if path else ""


def _common_bucket_source() -> str:
    return "\n".join(Path(m.__file__).read_text() for m in _modules(shared) if m.__file__)


def _walk(package: str) -> Iterator[Any]:
    module = importlib.import_module(package)
    yield from pkgutil.walk_packages(module.__path__, prefix=f"{package}.")


def env_reference(variable: str) -> str:
    """A value the NATS Helm chart writes into the config unquoted: the server reads the variable."""
    return f"<< ${variable} >>"


def accounts() -> dict[str, Any]:
    users = [
        {"user": user, "password": env_reference(password_variable(user)), "permissions": g.permissions()}
        for user, g in grants().items()
    ]
    return {
        ACCOUNT: {"jetstream": "enabled", "users": users},
        SYSTEM_ACCOUNT: {"users": [{"user": "sys", "password": env_reference(password_variable("sys"))}]},
    }


def helm_values() -> dict[str, Any]:
    """Values for the NATS Helm chart, next to deploy/nats/values.yaml."""
    users = [*grants(), "sys"]
    return {
        "config": {"merge": {"accounts": accounts(), "system_account": SYSTEM_ACCOUNT}},
        # The chart's `container.env` is a map (name → value or valueFrom), merged across values files.
        "container": {
            "env": {
                password_variable(user): {
                    "valueFrom": {"secretKeyRef": {"name": "helpdesk-nats-users", "key": user}}
                }
                for user in users
            }
        },
    }


HEADER = """\
# GENERATED by `python -m helpdesk.natsaccounts` from shared/contracts and the services' code: do not
# edit (tests/unit/test_deploy_manifests.py fails when it differs from what the code says).
# A second values file for the NATS Helm chart: `helm install nats nats/nats -f deploy/nats/values.yaml
# -f deploy/nats/accounts.yaml`. The passwords come from the Secret `helpdesk-nats-users` (one key per
# user), the same values the services' `helpdesk-nats` Secret holds (deploy/README.md).
"""


def render() -> str:
    return HEADER + yaml.safe_dump(helm_values(), sort_keys=False, width=200)


def to_conf(value: Any, indent: str = "") -> str:
    """A nats-server config (its JSON-like syntax) from the chart's merge values; `<< $X >>` is raw."""
    if isinstance(value, dict):
        inner = indent + "  "
        body = "\n".join(f"{inner}{json.dumps(k)}: {to_conf(v, inner)}" for k, v in value.items())
        return "{\n" + body + f"\n{indent}}}"
    if isinstance(value, list):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + to_conf(v, inner) for v in value) + f"\n{indent}]"
    if isinstance(value, str):
        raw = re.fullmatch(r"<< (.*) >>", value)
        return raw.group(1) if raw else json.dumps(value)
    return json.dumps(value)


def server_conf(merge: dict[str, Any], **settings: Any) -> str:
    """A whole nats-server config: `settings` (listen, jetstream, tls, …) plus the accounts."""
    return "\n".join(f"{json.dumps(k)}: {to_conf(v)}" for k, v in {**settings, **merge}.items()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpdesk.natsaccounts", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    parser.add_argument("--conf", action="store_true", help="print the accounts as a nats-server config")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.conf:
        sys.stdout.write(server_conf(helm_values()["config"]["merge"]))
        return 0
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run `python -m helpdesk.natsaccounts`", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
