"""`helpdesk`: the command line of OtelMS Helpdesk.

    helpdesk up                      the whole system on one machine (embedded default)
    helpdesk serve SERVICE           one service alone, configured by env vars (as in Kubernetes)
    helpdesk migrate [SERVICE ...]   create streams, buckets and tables if missing (one step)
    helpdesk token --role ... --account ... --sub ...   a development token
    helpdesk seed [SERVICE ...]      write the demo data
plus the commands the services add (e.g. `helpdesk rebuild history`, `helpdesk kb import PATH`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from helpdesk import services
from shared.auth import Role, issue_dev_token
from shared.logging import configure_logging
from shared.service import run
from shared.settings import CommonSettings


def _cmd_serve(args: argparse.Namespace) -> int:
    run(services.definition(args.service))
    return 0


def _selected(names: Sequence[str]) -> list[str]:
    return list(names) or list(services.PACKAGES)


def _cmd_migrate(args: argparse.Namespace) -> int:
    common = CommonSettings()
    configure_logging(level=common.log_level, json=common.log_json, service="migrate")

    async def main() -> None:
        for name in _selected(args.services):
            definition = services.definition(name)
            await definition.migrate(definition.load_settings())

    asyncio.run(main())
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
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
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--account", default=None, help="hotel account id (required for --role user)")
    token.add_argument("--sub", required=True, help="subject: the user's id")
    token.add_argument("--name", default=None, help="display name")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires")
    token.set_defaults(func=_cmd_token)

    if with_service_commands:
        for definition in services.all_definitions():
            if definition.add_cli_commands is not None:
                definition.add_cli_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The core commands need no service code: `helpdesk token` works even where a service is broken.
    parser = build_parser(with_service_commands=not (argv and argv[0] in CORE_COMMANDS))
    args = parser.parse_args(argv)
    if args.command == "token" and args.role == Role.USER.value and not args.account:
        parser.error("--account is required for --role user")
    if getattr(args, "services", None):
        unknown = [s for s in args.services if s not in services.PACKAGES]
        if unknown:
            parser.error(f"unknown service(s): {', '.join(unknown)}")
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
