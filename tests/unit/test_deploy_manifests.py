"""The Kubernetes manifests agree with the code: every process exists, every setting is a real one,
every HTTP service is probed, nothing races the migration step, and the Ingress and the HTTPRoute route
what `helpdesk up`'s gateway routes (helpdesk/gateway.py ROUTES), to the same services."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from helpdesk import gateway, services
from shared.settings import CommonSettings

pytestmark = pytest.mark.unit

BASE = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base"


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(BASE.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in documents() if d["kind"] == kind]


def settings_fields() -> dict[str, set[str]]:
    """Env prefix → the field names of that settings class."""
    fields = {"HELPDESK_": set(CommonSettings.model_fields)}
    for definition in services.all_definitions():
        module = importlib.import_module(f"{definition.package}.settings")
        classes = [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, BaseSettings) and v.__module__ == module.__name__
        ]
        assert classes, f"no settings class in {module.__name__}"
        fields[definition.env_prefix] = set(classes[0].model_fields)
    return fields


def known_setting(name: str, fields: dict[str, set[str]]) -> bool:
    for prefix in sorted(fields, key=len, reverse=True):
        if name.startswith(prefix):
            return name[len(prefix) :].lower() in fields[prefix]
    return False


def containers() -> list[dict[str, Any]]:
    out = []
    for doc in of_kind("Deployment") + of_kind("Job"):
        out += doc["spec"]["template"]["spec"]["containers"]
    return out


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_every_deployment_runs_a_module_that_exists() -> None:
    for container in containers():
        if "args" in container:
            assert importlib.util.find_spec(container["args"][0]) is not None, container["args"]


def test_every_helpdesk_variable_in_the_manifests_is_a_real_setting() -> None:
    fields = settings_fields()
    names = set(of_kind("ConfigMap")[0]["data"])
    for container in containers():
        names |= {e["name"] for e in container.get("env", [])}
    unknown = sorted(n for n in names if n.startswith("HELPDESK_") and not known_setting(n, fields))
    assert unknown == []


def test_every_deployment_is_probed_and_has_resources_and_a_grace_period() -> None:
    for doc in of_kind("Deployment"):
        pod = doc["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= 15
        for container in pod["containers"]:
            assert {"readinessProbe", "livenessProbe"} <= set(container), doc["metadata"]["name"]
            assert container["resources"]["requests"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_http_services_use_the_health_endpoints_they_serve() -> None:
    for doc in of_kind("Deployment"):
        for container in doc["spec"]["template"]["spec"]["containers"]:
            ports = {p["name"] for p in container["ports"]}
            if "http" in ports:
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_the_relay_runs_a_standby_that_a_rollout_or_a_drain_never_takes_with_the_active_one() -> None:
    (relay,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "tickets-relay"]
    assert relay["spec"]["replicas"] == 2  # one holds the lease (shared/lease.py), one stands by
    assert relay["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    assert relay["spec"]["template"]["spec"]["containers"][0]["args"] == ["tickets.relay"]
    budgets = [d for d in of_kind("PodDisruptionBudget") if d["metadata"]["name"] == "tickets-relay"]
    assert [b["spec"] for b in budgets] == [
        {"maxUnavailable": 1, "selector": relay["spec"]["selector"]},
    ]


def test_the_projector_is_a_single_instance_that_never_overlaps() -> None:
    (projector,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "tickets-projector"]
    assert projector["spec"]["replicas"] == 1
    assert projector["spec"]["strategy"]["type"] == "Recreate"


def test_only_the_migration_job_migrates() -> None:
    job = of_kind("Job")[0]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["helpdesk", "migrate"]
    for container in containers():
        assert not any(
            e["name"].endswith("MIGRATE_ON_START") and e["value"] == "true" for e in container.get("env", [])
        )


def test_api_deployments_leave_the_relay_and_projection_to_their_own_processes() -> None:
    tickets = next(d for d in of_kind("Deployment") if d["metadata"]["name"] == "tickets")
    env = {e["name"]: e.get("value") for e in tickets["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HELPDESK_TICKETS_RUN_RELAY"] == "false"
    assert env["HELPDESK_TICKETS_RUN_PROJECTION"] == "false"


def test_production_config_uses_three_stream_replicas_and_no_development_secret() -> None:
    config = of_kind("ConfigMap")[0]["data"]
    assert config["HELPDESK_ENVIRONMENT"] == "production"
    assert config["HELPDESK_NATS_STREAM_REPLICAS"] == "3"
    assert "HELPDESK_JWT_SECRET" not in config


# The one origin: `helpdesk up`'s Caddy (helpdesk/gateway.py), the Ingress and the HTTPRoute agree.

DEPLOY = BASE.parents[1]
PathKey = tuple[str, str]  # ("exact" | "prefix", path)


def caddy_server() -> dict[str, Any]:
    config = gateway.caddy_config(
        host="127.0.0.1",
        port=8700,
        upstreams={name: f"{name}:8080" for name in gateway.DOCS_SERVICES},
        web_root=Path("/srv"),
        storage=Path("/tmp/caddy"),
    )
    server: dict[str, Any] = config["apps"]["http"]["servers"]["gateway"]
    return server


def caddy_keys(paths: list[str]) -> list[PathKey]:
    """Caddy path patterns as Kubernetes path matches: `/a` + `/a/*` is the prefix `/a`, `/a/*` alone
    the prefix `/a/`, `/a` alone the exact path."""
    keys: list[PathKey] = []
    for path in paths:
        if path.endswith("/*"):
            base = path[:-2]
            keys.append(("prefix", base) if base in paths else ("prefix", base + "/"))
        elif f"{path}/*" not in paths:
            keys.append(("exact", path))
    return keys


Rewrite = Callable[[str], str]


def caddy_proxied() -> dict[PathKey, tuple[str, Rewrite]]:
    """Every path Caddy proxies → (the service, what the service receives for a request path)."""
    routed: dict[PathKey, tuple[str, Rewrite]] = {}
    for route in caddy_server()["routes"]:
        handlers = route["handle"]
        proxies = [h for h in handlers if h["handler"] == "reverse_proxy"]
        if not proxies:
            continue
        service = proxies[0]["upstreams"][0]["dial"].split(":")[0]
        rewrites = [r for h in handlers if h["handler"] == "rewrite" for r in h.get("path_regexp", [])]

        def rewrite(path: str, rewrites: list[dict[str, str]] = rewrites) -> str:
            for r in rewrites:
                path = re.sub(r["find"], r["replace"], path, count=1)
            return path

        for key in caddy_keys(route["match"][0]["path"]):
            routed[key] = (service, rewrite)
    return routed


def ingress_routed() -> dict[PathKey, tuple[str, Rewrite]]:
    routed: dict[PathKey, tuple[str, Rewrite]] = {}
    for ingress in of_kind("Ingress"):
        annotations = ingress["metadata"].get("annotations", {})
        target = annotations.get("nginx.ingress.kubernetes.io/rewrite-target")
        for rule in ingress["spec"]["rules"]:
            for item in rule["http"]["paths"]:
                path, service = item["path"], item["backend"]["service"]["name"]
                assert item["backend"]["service"]["port"]["number"] == 8080
                if item["pathType"] == "ImplementationSpecific":
                    assert path.endswith("(.*)") and target, path
                    pattern, replacement = f"^{path}", target.replace("$1", r"\1")

                    def rewrite(p: str, pattern: str = pattern, replacement: str = replacement) -> str:
                        return re.sub(pattern, replacement, p, count=1)

                    routed[("prefix", path.removesuffix("(.*)"))] = (service, rewrite)
                else:
                    assert target is None, "a rewrite would apply to every path of this Ingress"
                    kind = "prefix" if item["pathType"] == "Prefix" else "exact"
                    routed[(kind, path)] = (service, lambda p: p)
    return routed


def httproute_routed() -> dict[PathKey, tuple[str, Rewrite]]:
    routed: dict[PathKey, tuple[str, Rewrite]] = {}
    for route in of_kind("HTTPRoute"):
        for rule in route["spec"]["rules"]:
            if "backendRefs" not in rule:
                continue  # a redirect
            (backend,) = rule["backendRefs"]
            assert backend["port"] == 8080
            rewrites = [
                f["urlRewrite"]["path"]["replacePrefixMatch"]
                for f in rule.get("filters", [])
                if f["type"] == "URLRewrite"
            ]
            for match in rule["matches"]:
                kind = {"PathPrefix": "prefix", "Exact": "exact"}[match["path"]["type"]]
                prefix = match["path"]["value"]

                def rewrite(p: str, prefix: str = prefix, rewrites: list[str] = rewrites) -> str:
                    return rewrites[0] + p.removeprefix(prefix) if rewrites else p

                routed[(kind, prefix)] = (backend["name"], rewrite)
    return routed


def seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]]


def test_the_route_table_is_what_the_gateway_serves() -> None:
    expected = {("exact" if r.match == "exact" else "prefix", r.path): r.service for r in gateway.ROUTES}
    expected |= {("prefix", f"/docs/{s}/"): s for s in gateway.DOCS_SERVICES}
    assert {key: service for key, (service, _) in caddy_proxied().items()} == expected


@pytest.mark.parametrize("routed", [ingress_routed, httproute_routed], ids=["Ingress", "HTTPRoute"])
def test_kubernetes_routes_every_gateway_path_to_the_same_service_and_the_rest_to_the_front_end(
    routed: Callable[[], dict[PathKey, tuple[str, Rewrite]]],
) -> None:
    caddy = caddy_proxied()
    k8s = routed()
    assert {k: s for k, (s, _) in k8s.items() if s != "web"} == {k: s for k, (s, _) in caddy.items()}
    assert {k for k, (s, _) in k8s.items() if s == "web"} == {("exact", "/healthz"), ("prefix", "/")}
    for key, (_, rewrite) in caddy.items():
        for sample in (key[1], key[1].rstrip("/") + "/assets/swagger-ui.css"):
            if key[0] == "prefix" or sample == key[1]:
                assert k8s[key][1](sample) == rewrite(sample), sample
    assert caddy[("prefix", "/docs/tickets/")][1]("/docs/tickets/openapi.json") == "/docs/openapi.json"


def test_a_docs_url_without_its_slash_is_redirected_to_it_since_the_pages_use_relative_urls() -> None:
    caddy = {
        route["match"][0]["path"][0]: route["handle"][0]["headers"]["Location"][0]
        for route in caddy_server()["routes"]
        if route["handle"][0].get("status_code") == 308
    }
    httproute = {
        rule["matches"][0]["path"]["value"]: rule["filters"][0]["requestRedirect"]["path"]["replaceFullPath"]
        for rule in of_kind("HTTPRoute")[0]["spec"]["rules"]
        if rule.get("filters", [{}])[0].get("type") == "RequestRedirect"
    }
    assert caddy == httproute == {f"/docs/{s}": f"/docs/{s}/" for s in gateway.DOCS_SERVICES}


def test_every_routed_backend_is_a_service_of_the_base() -> None:
    services = {d["metadata"]["name"]: d for d in of_kind("Service")}
    for service, _ in [*ingress_routed().values(), *httproute_routed().values()]:
        assert [p["port"] for p in services[service]["spec"]["ports"]] == [8080]


def test_streams_are_unbuffered_and_outlive_the_heartbeats_everywhere() -> None:
    heartbeat = 15.0
    server = caddy_server()
    assert "read_timeout" not in server and "write_timeout" not in server  # no cap on a stream's life
    for route in server["routes"]:
        for handler in route["handle"]:
            if handler["handler"] == "reverse_proxy":
                assert seconds(handler["transport"]["read_timeout"]) >= 4 * heartbeat
                assert seconds(handler["transport"]["write_timeout"]) >= 4 * heartbeat
                if "/api/v1/popups/*" in route["match"][0]["path"]:  # the SSE stream's route
                    assert handler["flush_interval"] == -1
    annotations = next(i for i in of_kind("Ingress") if i["metadata"]["name"] == "helpdesk")["metadata"][
        "annotations"
    ]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 4 * heartbeat
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 4 * heartbeat
    for rule in of_kind("HTTPRoute")[0]["spec"]["rules"]:
        if any(m["path"]["value"] in {"/api/v1/popups", "/api/v1/chat"} for m in rule["matches"]):
            assert rule["timeouts"]["request"] == "0s"


def test_no_proxy_caps_a_body_before_the_services_own_limits_answer() -> None:
    annotations = next(i for i in of_kind("Ingress") if i["metadata"]["name"] == "helpdesk")["metadata"][
        "annotations"
    ]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "0"
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
    handlers = json.dumps(caddy_server())
    assert '"request_body"' not in handlers


def test_the_gateway_exposes_no_admin_endpoint_and_never_fetches_certificates() -> None:
    config = gateway.caddy_config(
        host="127.0.0.1",
        port=8700,
        upstreams={s: f"{s}:8080" for s in gateway.DOCS_SERVICES},
        web_root=Path("/srv"),
        storage=Path("/tmp/caddy"),
    )
    assert config["admin"] == {"disabled": True, "config": {"persist": False}}
    assert set(config["apps"]) == {"http"}
    assert caddy_server()["automatic_https"] == {"disable": True}


def test_the_front_end_is_served_with_the_same_security_headers_everywhere() -> None:
    static = caddy_server()["routes"][-1]["handle"][0]
    assert static["response"]["set"] == {k: [v] for k, v in gateway.SECURITY_HEADERS.items()}
    caddyfile = (DEPLOY / "web" / "Caddyfile").read_text()
    for name, value in gateway.SECURITY_HEADERS.items():
        assert f'{name} "{value}"' in caddyfile
    assert "admin off" in caddyfile and "auto_https off" in caddyfile


def test_the_front_end_image_is_built_by_a_stage_of_the_dockerfile_and_the_services_image_stays_default() -> (
    None
):
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", dockerfile, flags=re.MULTILINE)
    names = [name for _, name in stages]
    assert "web" in names and names.index("web-build") < names.index("web")
    assert stages[-1][0].startswith("python:")  # `docker build` without --target builds the services
    assert "npm ci" in dockerfile and "npm run build" in dockerfile
    web = next(d for d in of_kind("Deployment") if d["metadata"]["name"] == "web")
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "otelms/helpdesk-web"
