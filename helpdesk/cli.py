"""`helpdesk`: the command line of OtelMS Helpdesk.

    helpdesk up                      the whole system on one machine (embedded default)
    helpdesk serve SERVICE           one service alone, configured by env vars (as in Kubernetes)
    helpdesk migrate [SERVICE ...]   create streams, buckets and tables if missing (one step)
    helpdesk token --role ... --account ... --sub ...   a development token
    helpdesk seed [SERVICE ...]      write the demo data
plus the commands the services add (e.g. `helpdesk rebuild history`, `helpdesk kb import PATH`).

Every command that talks to the system takes `--nats-url` and `--data-dir` and finds the NATS that
`helpdesk up` started on its own (`helpdesk.discovery`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, overload

from helpdesk import services

# What the commands import (FastAPI, pydantic, NATS, the services) is imported by the command that
# needs it: `helpdesk up` starts NATS and the gateway before it imports what its services share.


def _cmd_serve(args: argparse.Namespace) -> int:
    from shared.service import run

    run(services.definition(args.service))
    return 0


def _selected(names: Sequence[str]) -> list[str]:
    return list(names) or list(services.PACKAGES)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from shared.logging import configure_logging
    from shared.settings import CommonSettings

    common = CommonSettings()
    configure_logging(level=common.log_level, json=common.log_json, service="migrate")

    async def main() -> None:
        for name in _selected(args.services):
            definition = services.definition(name)
            settings = definition.load_settings()
            settings.refuse_to_start_if_undeployable(f"helpdesk migrate {name}")
            await definition.migrate(settings)

    asyncio.run(main())
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from shared.logging import configure_logging
    from shared.settings import CommonSettings

    common = CommonSettings()
    configure_logging(level=common.log_level, json=common.log_json, service="seed")

    async def main() -> None:
        for name in _selected(args.services):
            definition = services.definition(name)
            if definition.seed_demo is not None:
                await definition.seed_demo(definition.load_settings())

    asyncio.run(main())
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from shared.auth import Role, issue_dev_token
    from shared.settings import CommonSettings

    settings = CommonSettings()
    try:
        token = issue_dev_token(
            settings,
            role=Role(args.role),
            sub=args.sub,
            account_id=args.account,
            name=args.name or args.sub,
            ttl_seconds=args.ttl,
        )
    except PermissionError as exc:
        print(f"helpdesk token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    from helpdesk.up import run_up

    return run_up(args)


CORE_COMMANDS = frozenset({"up", "serve", "migrate", "seed", "token"})
# Commands that do not talk to a running system's NATS (`up` starts one, `serve` is configured by
# env vars only, as in Kubernetes; `token` only signs).
OFFLINE_COMMANDS = frozenset({"up", "serve", "token"})


def _leaf_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield parser
    for action in subparsers:
        for child in dict.fromkeys(action.choices.values()):
            yield from _leaf_parsers(child)


def _add_system_options(sub: argparse._SubParsersAction[Any]) -> None:
    """`--nats-url` and `--data-dir` on every command that talks to the system."""
    for name, command in sub.choices.items():
        if name in OFFLINE_COMMANDS:
            continue
        for leaf in _leaf_parsers(command):
            if any("--nats-url" in a.option_strings for a in leaf._actions):
                continue
            group = leaf.add_argument_group("the system to talk to")
            group.add_argument(
                "--nats-url",
                default=None,
                help="its NATS (default: HELPDESK_NATS_URL, else what `helpdesk up` recorded in the data "
                "dir, else nats://127.0.0.1:4222)",
            )
            group.add_argument(
                "--data-dir",
                default=None,
                help="the data dir of `helpdesk up` (default: HELPDESK_DATA_DIR, else .data)",
            )


def _use_system(args: argparse.Namespace) -> int:
    from helpdesk import discovery
    from shared.settings import CommonSettings

    """Point this process's settings at the system's NATS and check it is this product's."""
    data_dir = discovery.data_dir_of(getattr(args, "data_dir", None), os.environ)
    choice = discovery.choose_nats_url(
        explicit=getattr(args, "nats_url", None), data_dir=data_dir, environ=os.environ
    )
    os.environ["HELPDESK_NATS_URL"] = choice.url
    if getattr(args, "data_dir", None):
        os.environ["HELPDESK_DATA_DIR"] = str(data_dir)
    print(f"helpdesk: NATS {choice.url} ({choice.source})", file=sys.stderr)
    # `migrate` creates the streams: it only needs a server that answers.
    streams = () if args.command == "migrate" else discovery.PRODUCT_STREAMS
    try:
        asyncio.run(discovery.probe(CommonSettings(), source=choice.source, streams=streams))
    except discovery.SystemNotReachable as exc:
        print(f"helpdesk {args.command}: {exc}", file=sys.stderr)
        return 2
    return 0


class _RoleNames(Sequence[str]):
    """The roles `helpdesk token --role` takes, read from `shared.auth` (which imports FastAPI) only
    when the command line is checked or help is printed."""

    def _names(self) -> list[str]:
        from shared.auth import Role

        return [role.value for role in Role]

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())


def build_parser(*, with_service_commands: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpdesk", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole system on this machine (bundled NATS, SQLite, demo data)")
    up.add_argument("--data-dir", default=None, help="where NATS and SQLite keep data (default: .data)")
    up.add_argument("--nats-url", default=None, help="use this NATS instead of starting the bundled one")
    up.add_argument("--nats-port", type=int, default=4333, help="port for the bundled nats-server (0: free)")
    up.add_argument(
        "--port-base",
        type=int,
        default=8700,
        help="the gateway (the one origin) listens on BASE, the services on BASE+1..BASE+4",
    )
    up.add_argument(
        "--web-dir", default=None, help="the front-end build the gateway serves (default: web/dist)"
    )
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--no-seed", action="store_true", help="do not write the demo data")
    up.set_defaults(func=_cmd_up)

    serve = sub.add_parser("serve", help="run one service (configured by HELPDESK_* env vars)")
    serve.add_argument("service", choices=list(services.PACKAGES))
    serve.set_defaults(func=_cmd_serve)

    migrate = sub.add_parser("migrate", help="create streams, buckets and tables if missing")
    migrate.add_argument("services", nargs="*", help="default: all four")
    migrate.set_defaults(func=_cmd_migrate)

    seed = sub.add_parser("seed", help="write the demo data (idempotent)")
    seed.add_argument("services", nargs="*", help="default: all four")
    seed.set_defaults(func=_cmd_seed)

    token = sub.add_parser("token", help="print a development JWT accepted by the running services")
    token.add_argument("--role", required=True, choices=_RoleNames())
    token.add_argument("--account", default=None, help="hotel account id (required for --role user)")
    token.add_argument("--sub", required=True, help="subject: the user's id")
    token.add_argument("--name", default=None, help="display name")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires")
    token.set_defaults(func=_cmd_token)

    if with_service_commands:
        for definition in services.all_definitions():
            if definition.add_cli_commands is not None:
                definition.add_cli_commands(sub)
    _add_system_options(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The core commands need no service code: `helpdesk token` works even where a service is broken.
    parser = build_parser(with_service_commands=not (argv and argv[0] in CORE_COMMANDS))
    args = parser.parse_args(argv)
    if args.command == "token":
        from shared.auth import Role

        if args.role == Role.USER.value and not args.account:
            parser.error("--account is required for --role user")
    if getattr(args, "services", None):
        unknown = [s for s in args.services if s not in services.PACKAGES]
        if unknown:
            parser.error(f"unknown service(s): {', '.join(unknown)}")
    if args.command not in OFFLINE_COMMANDS:
        problem = _use_system(args)
        if problem:
            return problem
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
