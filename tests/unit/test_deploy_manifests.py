"""The Kubernetes manifests agree with the code: every process exists, every setting is a real one,
every HTTP service is probed, and nothing races the migration step."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from helpdesk import services
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


def test_the_relay_and_projector_are_single_instances_that_never_overlap() -> None:
    for doc in of_kind("Deployment"):
        if doc["metadata"]["name"] in {"tickets-relay", "tickets-projector"}:
            assert doc["spec"]["replicas"] == 1
            assert doc["spec"]["strategy"]["type"] == "Recreate"


def test_only_the_migration_job_migrates() -> None:
    job = of_kind("Job")[0]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["helpdesk", "migrate"]
    for container in containers():
        assert not any(
            e["name"].endswith("MIGRATE_ON_START") and e["value"] == "true" for e in container.get("env", [])
        )


def test_api_deployments_leave_the_relay_and_projection_to_their_own_processes() -> None:
    tickets = next(d for d in of_kind("Deployment") if d["metadata"]["name"] == "tickets")
    env = {e["name"]: e["value"] for e in tickets["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HELPDESK_TICKETS_RUN_RELAY"] == "false"
    assert env["HELPDESK_TICKETS_RUN_PROJECTION"] == "false"


def test_production_config_uses_three_stream_replicas_and_no_development_secret() -> None:
    config = of_kind("ConfigMap")[0]["data"]
    assert config["HELPDESK_ENVIRONMENT"] == "production"
    assert config["HELPDESK_NATS_STREAM_REPLICAS"] == "3"
    assert "HELPDESK_JWT_SECRET" not in config
