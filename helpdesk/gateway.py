"""The one origin: which path goes to which service, and the Caddy config that serves it.

`ROUTES` is the route table for every place the system is exposed: `helpdesk up` turns it into a Caddy
JSON config (`caddy_config`), and the Kubernetes Ingress and Gateway API HTTPRoute under `deploy/` are
checked against it by `tests/unit/test_deploy_manifests.py`.

Under `helpdesk up` Caddy listens on the port base itself (8700) and:
- proxies `/api/v1/...` to the services by `ROUTES` (notifications unbuffered, for Server-Sent Events;
  WebSocket upgrades pass through as Caddy does by default);
- maps `/docs/<service>/…` to that service's `/docs/…` (Swagger UI, ReDoc, the OpenAPI document and
  their assets, nothing else of the service);
- answers `/healthz` itself;
- serves everything else from the front-end build (`web/dist/`) with security headers and compression,
  `/console/*` falling back to the console's `index.html`; without a build, `/` says so.
No admin endpoint, no automatic HTTPS (no TLS app at all, so no ACME or OCSP traffic), no persisted
config: nothing but the listener is exposed and Caddy reaches nothing but the services (Caddy 2 has no
telemetry). Access logs are off: the popup stream's URL carries a short-lived token.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared.caddy import CaddyServer

PathMatch = Literal["exact", "prefix"]


@dataclass(frozen=True)
class Route:
    """`path` to `service`. `prefix` matches element by element, as Kubernetes' `Prefix` and the
    Gateway API's `PathPrefix` do: `/api/v1/kb` is `/api/v1/kb` and `/api/v1/kb/…`, not `/api/v1/kbx`."""

    path: str
    match: PathMatch
    service: str
    # Server-Sent Events: every write goes to the browser at once.
    streaming: bool = False


ROUTES: tuple[Route, ...] = (
    Route("/api/v1/tickets", "prefix", "tickets"),
    Route("/api/v1/topics", "exact", "tickets"),
    Route("/api/v1/request-form", "exact", "tickets"),
    Route("/api/v1/dev", "prefix", "tickets"),
    Route("/api/v1/support", "prefix", "tickets"),  # the support directory: contacts, topics, hours
    Route("/api/v1/popups", "prefix", "notifications", streaming=True),
    Route("/api/v1/messages", "prefix", "notifications"),
    Route("/api/v1/chat", "prefix", "chat"),  # WebSocket: /api/v1/chat/user, /api/v1/chat/agent
    Route("/api/v1/kb", "prefix", "kb-search"),
)
# `/docs/<service>/` → the service's `/docs/` (see shared.http.install_docs).
DOCS_SERVICES: tuple[str, ...] = ("tickets", "notifications", "chat", "kb-search")

# The static pages' policy: only this origin's scripts, styles (inline allowed for the widget's
# runtime styles), images, fonts and API calls; no plugins, no <base>, framed only by this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

# Compressed when the browser accepts it (Caddy's default list of compressible content types).
ENCODE: dict[str, Any] = {
    "handler": "encode",
    "encodings": {"zstd": {}, "gzip": {}},
    "prefer": ["zstd", "gzip"],
}

# SSE heartbeats come every 15 s and uvicorn pings WebSockets every 20 s: an upstream silent for
# longer than this is gone. Per read/write on the upstream connection, not a cap on a stream's life.
UPSTREAM_IO_TIMEOUT = "5m"
# Ctrl-C: open SSE streams and WebSockets are closed after this, not waited for.
SHUTDOWN_GRACE = "2s"

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OtelMS Helpdesk</title></head>
<body><h1>OtelMS Helpdesk</h1>
<p>The front end is not built. Build it with <code>npm ci &amp;&amp; npm run build</code> in
<code>web/</code>; the APIs already answer here, and their docs are under <a href="/docs/">/docs/</a>.</p>
</body></html>
"""


def docs_prefix(service: str) -> str:
    return f"/docs/{service}"


def caddy_paths(route: Route) -> list[str]:
    """The Caddy path matcher for a route (Caddy's `*` is a plain wildcard, hence two patterns)."""
    if route.match == "exact":
        return [route.path]
    return [route.path, f"{route.path}/*"]


def _reverse_proxy(dial: str, *, streaming: bool) -> dict[str, Any]:
    handler: dict[str, Any] = {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": dial}],
        "transport": {
            "protocol": "http",
            "dial_timeout": "5s",
            "read_timeout": UPSTREAM_IO_TIMEOUT,
            "write_timeout": UPSTREAM_IO_TIMEOUT,
        },
    }
    if streaming:
        handler["flush_interval"] = -1
    return handler


def _static_response(body: str, *, status: int = 200, content_type: str = "text/html") -> dict[str, Any]:
    return {
        "handler": "static_response",
        "status_code": status,
        "headers": {"Content-Type": [f"{content_type}; charset=utf-8"]},
        "body": body,
    }


def _docs_index() -> str:
    links = "\n".join(
        f'<li><a href="{docs_prefix(s)}/">{html.escape(s)}</a> '
        f'(<a href="{docs_prefix(s)}/redoc">reference</a>)</li>'
        for s in DOCS_SERVICES
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>OtelMS Helpdesk APIs</title>'
        f"</head>\n<body><h1>OtelMS Helpdesk APIs</h1>\n<ul>\n{links}\n</ul></body></html>\n"
    )


def _api_routes(upstreams: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "match": [{"path": caddy_paths(route)}],
            "handle": [_reverse_proxy(upstreams[route.service], streaming=route.streaming)],
            "terminal": True,
        }
        for route in ROUTES
    ]


def _docs_routes(upstreams: Mapping[str, str]) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = [
        {
            "match": [{"path": ["/docs", "/docs/"]}],
            "handle": [
                {"handler": "headers", "response": {"set": _header_lists()}},
                _static_response(_docs_index()),
            ],
            "terminal": True,
        }
    ]
    for service in DOCS_SERVICES:
        prefix = docs_prefix(service)
        routes += [
            {
                # Relative URLs in the page need the trailing slash.
                "match": [{"path": [prefix]}],
                "handle": [
                    {
                        "handler": "static_response",
                        "status_code": 308,
                        "headers": {"Location": [f"{prefix}/"]},
                    }
                ],
                "terminal": True,
            },
            {
                "match": [{"path": [f"{prefix}/*"]}],
                "handle": [
                    {
                        "handler": "rewrite",
                        "path_regexp": [{"find": f"^{re.escape(prefix)}/", "replace": "/docs/"}],
                    },
                    ENCODE,  # the Swagger UI bundle is 1.5 MB as the service sends it
                    _reverse_proxy(upstreams[service], streaming=False),
                ],
                "terminal": True,
            },
        ]
    return routes


def _header_lists() -> dict[str, list[str]]:
    return {name: [value] for name, value in SECURITY_HEADERS.items()}


def _static_routes(web_root: Path) -> list[dict[str, Any]]:
    root = str(web_root)
    site = [
        {
            # Checked per request, so a build made while the gateway runs is served at once.
            "match": [{"path": ["/"], "not": [{"file": {"root": root, "try_files": ["/index.html"]}}]}],
            "handle": [_static_response(NOT_BUILT_PAGE)],
            "terminal": True,
        },
        {
            # The console is a single-page app: its own routes fall back to its index.html.
            "match": [
                {
                    "path": ["/console", "/console/*"],
                    "file": {"root": root, "try_files": ["{http.request.uri.path}", "/console/index.html"]},
                }
            ],
            "handle": [{"handler": "rewrite", "uri": "{http.matchers.file.relative}"}],
        },
        {
            "handle": [
                ENCODE,
                {"handler": "file_server", "root": root, "index_names": ["index.html"]},
            ]
        },
    ]
    return [
        {
            "handle": [
                {"handler": "headers", "response": {"set": _header_lists()}},
                {"handler": "subroute", "routes": site},
            ],
            "terminal": True,
        }
    ]


def caddy_config(
    *, host: str, port: int, upstreams: Mapping[str, str], web_root: Path, storage: Path
) -> dict[str, Any]:
    """The whole Caddy JSON config. `upstreams` maps each service to its `host:port`."""
    missing = ({r.service for r in ROUTES} | set(DOCS_SERVICES)) - set(upstreams)
    if missing:
        raise ValueError(f"no upstream for {', '.join(sorted(missing))}")
    health = {
        "match": [{"path": ["/healthz"]}],
        "handle": [_static_response("ok\n", content_type="text/plain")],
    }
    return {
        "admin": {"disabled": True, "config": {"persist": False}},
        "logging": {"logs": {"default": {"level": "INFO", "writer": {"output": "stderr"}}}},
        "storage": {"module": "file_system", "root": str(storage)},
        "apps": {
            "http": {
                "grace_period": SHUTDOWN_GRACE,
                "servers": {
                    "gateway": {
                        "listen": [f"{host}:{port}"],
                        "automatic_https": {"disable": True},
                        # No whole-request read or write deadline: SSE streams and WebSockets live
                        # for hours. Slow headers are cut; idle keep-alive connections are closed.
                        "read_header_timeout": "10s",
                        "idle_timeout": "2m",
                        "routes": [
                            {**health, "terminal": True},
                            *_api_routes(upstreams),
                            *_docs_routes(upstreams),
                            *_static_routes(web_root),
                        ],
                    }
                },
            }
        },
    }


def default_web_root() -> Path:
    """`web/dist/` of the source tree `helpdesk` runs from (the front-end build writes it there)."""
    return Path(__file__).resolve().parent.parent / "web" / "dist"


def start_gateway(
    *,
    data_dir: Path,
    host: str,
    port: int,
    upstreams: Mapping[str, str],
    web_root: Path,
) -> CaddyServer:
    """Write `<data_dir>/gateway/caddy.json` and start Caddy with it (its log: `<data_dir>/caddy.log`)."""
    home = data_dir / "gateway"
    home.mkdir(parents=True, exist_ok=True)
    config = caddy_config(host=host, port=port, upstreams=upstreams, web_root=web_root, storage=home / "data")
    config_file = home / "caddy.json"
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    server = CaddyServer(
        config_file=config_file, host=host, port=port, home=home, log_file=data_dir / "caddy.log"
    )
    return server.start()
