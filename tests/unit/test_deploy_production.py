"""What a platform team reviewing deploy/ looks for, checked on the manifests as written: every pod
read-only with a size-limited writable /tmp and no ServiceAccount token, autoscaled Deployments with no
`replicas`, zone spread, a bounded migration Job ordered by Argo CD sync waves, deny-by-default network
policies, per-service NATS users that exist in the generated accounts, images by digest in
production, alerts on metrics the code exports, and the lock files the image and dev.py install from.

The rendered overlays are validated by the real tools (kubectl kustomize, kubernetes-validate,
checkov, nats-server -t, hadolint) in tests/integration/test_deploy_tools.py."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from helpdesk import natsaccounts, services

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "k8s" / "base"
MONITORING = DEPLOY / "k8s" / "components" / "monitoring"


def load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def base() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(BASE.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += load(path)
    return docs


def workloads() -> list[dict[str, Any]]:
    return [d for d in base() if d["kind"] in {"Deployment", "Job"}]


def pods() -> list[tuple[str, dict[str, Any]]]:
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in workloads()]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def wave(doc: dict[str, Any]) -> int:
    return int(doc["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


def test_every_pod_is_read_only_with_a_size_limited_tmp_and_no_service_account_token() -> None:
    config = next(d for d in base() if d["kind"] == "ConfigMap")["data"]
    assert config["TMPDIR"] == "/tmp"
    assert config["HELPDESK_DATA_DIR"].startswith("/tmp/")
    for name, pod in pods():
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["serviceAccountName"] == "helpdesk", name
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tmp"]["emptyDir"]["sizeLimit"], name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts["/tmp"] == "tmp", name
            writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
            assert writable == {"/tmp"}, f"{name}: writable paths {writable}"


def test_the_tickets_tmp_holds_several_uploads_at_their_size_cap() -> None:
    from tickets.settings import TicketsSettings

    tickets = next(d for d in workloads() if d["metadata"]["name"] == "tickets")
    limit = tickets["spec"]["template"]["spec"]["volumes"][0]["emptyDir"]["sizeLimit"]
    assert limit.endswith("Mi")
    assert int(limit[:-2]) * 2**20 >= 10 * TicketsSettings().max_upload_bytes


def test_the_one_service_account_mounts_no_token_and_has_no_role() -> None:
    (account,) = [d for d in base() if d["kind"] == "ServiceAccount"]
    assert account["automountServiceAccountToken"] is False
    assert not [d for d in base() if d["kind"] in {"Role", "RoleBinding", "ClusterRoleBinding"}]


def test_autoscaled_deployments_leave_the_replica_count_to_their_autoscaler() -> None:
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in base() if d["kind"] == "HorizontalPodAutoscaler"}
    assert scaled == {"tickets", "notifications", "chat", "kb-search"}
    for doc in workloads():
        if doc["metadata"]["name"] in scaled:
            assert "replicas" not in doc["spec"], doc["metadata"]["name"]


def test_every_deployment_spreads_over_zones_and_nodes() -> None:
    for doc in workloads():
        if doc["kind"] != "Deployment":
            continue
        keys = {c["topologyKey"] for c in doc["spec"]["template"]["spec"]["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, doc["metadata"]["name"]


def test_disruption_budgets_never_block_a_drain_of_a_single_replica() -> None:
    for doc in base():
        if doc["kind"] == "PodDisruptionBudget":
            assert doc["spec"] == {**doc["spec"], "maxUnavailable": 1}
            assert "minAvailable" not in doc["spec"]


def test_the_migration_job_is_bounded_rerunnable_and_ordered_after_what_it_needs() -> None:
    (job,) = [d for d in base() if d["kind"] == "Job"]
    spec = job["spec"]
    assert 0 < spec["activeDeadlineSeconds"] <= 1800
    assert 0 < spec["backoffLimit"] <= 6
    assert spec["ttlSecondsAfterFinished"] > 0
    annotations = job["metadata"]["annotations"]
    # Not PreSync: a PreSync hook runs before the first sync has created its Namespace and ConfigMap.
    assert annotations["argocd.argoproj.io/hook"] == "Sync"
    assert "BeforeHookCreation" in annotations["argocd.argoproj.io/hook-delete-policy"]
    for doc in base():
        if doc["kind"] in {"Namespace", "ConfigMap", "ServiceAccount", "NetworkPolicy", "Certificate"}:
            assert wave(doc) < wave(job), doc["metadata"]["name"]
        if doc["kind"] == "Deployment":
            assert wave(doc) > wave(job)
    for overlay in ("production", "dev"):
        for path in (DEPLOY / "k8s" / "overlays" / overlay).glob("*secret*.yaml"):
            for doc in load(path):
                assert wave(doc) < wave(job), doc["metadata"]["name"]
    container = spec["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_network_policies_deny_by_default_and_every_helpdesk_egress_names_its_peer() -> None:
    policies = [d for d in base() if d["kind"] == "NetworkPolicy"]
    deny = next(p for p in policies if p["metadata"]["name"] == "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for policy in policies:
        if policy["metadata"]["name"] == "postgres":
            continue  # CloudNativePG's instance manager reaches the API server and the object store
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), policy["metadata"]["name"]
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), policy["metadata"]["name"]
    selected = [p["spec"]["podSelector"].get("matchLabels", {}) for p in policies]
    for name, pod in pods():
        labels = next(d for d in workloads() if d["metadata"]["name"] == name)["spec"]["template"][
            "metadata"
        ]["labels"]
        env = env_of(pod["containers"][0])
        if "HELPDESK_NATS_USER" in env:
            assert labels.get("helpdesk.otelms.io/nats") == "true", name
        if any(n.endswith("POSTGRES_DSN") for n in env):
            assert labels.get("helpdesk.otelms.io/postgres") == "true", name
    assert {"helpdesk.otelms.io/nats": "true"} in selected
    assert {"helpdesk.otelms.io/postgres": "true"} in selected


def test_each_process_connects_to_nats_as_a_generated_user_with_its_own_password() -> None:
    users = set(natsaccounts.grants())
    expected = {
        **{d: d for d in services.PACKAGES},
        "tickets-relay": "tickets",
        "tickets-projector": "tickets",
    }
    expected |= {"tickets.relay": "tickets", "helpdesk-migrate": "migrate"}
    for name, pod in pods():
        env = env_of(pod["containers"][0])
        if name == "web":
            assert "HELPDESK_NATS_USER" not in env
            continue
        user = env["HELPDESK_NATS_USER"]["value"]
        assert user == expected[name] and user in users, name
        assert env["HELPDESK_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "helpdesk-nats",
            "key": user,
        }


def test_the_dsns_come_from_cloudnativepgs_app_secret() -> None:
    for name, pod in pods():
        for var, entry in env_of(pod["containers"][0]).items():
            if var.endswith("POSTGRES_DSN"):
                assert entry["valueFrom"]["secretKeyRef"] == {"name": "helpdesk-pg-app", "key": "uri"}, name
    (cluster,) = load(DEPLOY / "postgres" / "cluster.yaml")
    assert cluster["metadata"]["name"] == "helpdesk-pg"  # CloudNativePG names its app secret <name>-app


def test_postgresql_is_backed_up_continuously_and_every_night() -> None:
    (cluster,) = load(DEPLOY / "postgres" / "cluster.yaml")
    backup = cluster["spec"]["backup"]
    assert backup["retentionPolicy"]
    assert backup["barmanObjectStore"]["wal"]
    (scheduled,) = load(DEPLOY / "postgres" / "scheduled-backup.yaml")
    assert scheduled["kind"] == "ScheduledBackup"
    assert scheduled["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    readme = (DEPLOY / "README.md").read_text()
    assert "Restoring PostgreSQL" in readme and "recovery" in readme


def test_the_committed_nats_accounts_are_what_the_generator_makes_from_the_code() -> None:
    committed = (DEPLOY / "nats" / "accounts.yaml").read_text()
    assert committed == natsaccounts.render(), "run `python -m helpdesk.natsaccounts` and commit the result"


def test_nats_runs_with_tls_resources_and_no_nats_box() -> None:
    (values,) = load(DEPLOY / "nats" / "values.yaml")
    assert values["natsBox"]["enabled"] is False
    assert values["config"]["nats"]["tls"]["enabled"] is True
    assert values["config"]["cluster"]["tls"]["enabled"] is True
    resources = values["container"]["merge"]["resources"]
    assert resources["limits"]["memory"] and resources["requests"]["memory"]
    issued = {
        d["spec"]["secretName"] for d in load(DEPLOY / "nats" / "tls.yaml") if d["kind"] == "Certificate"
    }
    assert {"nats-server-tls", "nats-cluster-tls"} <= issued
    config = next(d for d in base() if d["kind"] == "ConfigMap")["data"]
    assert all(url.startswith("tls://") for url in config["HELPDESK_NATS_URL"].split(","))


def test_production_images_are_pinned_by_digest() -> None:
    kustomization = yaml.safe_load(
        (DEPLOY / "k8s" / "overlays" / "production" / "kustomization.yaml").read_text()
    )
    images = {i["name"]: i for i in kustomization["images"]}
    assert set(images) == {"otelms/helpdesk", "otelms/helpdesk-web"}
    for image in images.values():
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"])
        assert "newTag" not in image


def exported_metrics() -> set[str]:
    pattern = re.compile(r"""(?:Counter|Gauge|Histogram|Summary)\(\s*["'](helpdesk_[a-z_]+)["']""")
    names: set[str] = set()
    for path in [*ROOT.joinpath("shared").rglob("*.py"), *ROOT.joinpath("services").rglob("*.py")]:
        names |= set(pattern.findall(path.read_text()))
    return names


def used_metrics(text: str) -> set[str]:
    names = set(re.findall(r"\bhelpdesk_[a-z_]+", text))
    # A histogram is queried by its series: name_bucket, name_count, name_sum.
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def test_alerts_and_the_dashboard_use_only_metrics_the_services_export() -> None:
    exported = exported_metrics()
    (rule,) = load(MONITORING / "prometheusrule.yaml")
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {
        "HelpdeskHistoryProjectionLagging",
        "HelpdeskDeadLettersGrowing",
        "HelpdeskRelayStalled",
        "HelpdeskHigh5xxRate",
        "HelpdeskReadinessFlapping",
        "HelpdeskStoreRenumbered",
        "HelpdeskFaqIndexBehind",
    } <= set(alerts)
    assert used_metrics(" ".join(alerts.values())) <= exported
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert used_metrics(exprs) <= exported
    assert used_metrics(exprs)


def load_dev_py() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_locks_are_made_from_the_dependencies_now_in_pyproject() -> None:
    dev = load_dev_py()
    for name in ("requirements.lock", "requirements-dev.lock"):
        first = (ROOT / name).read_text().partition("\n")[0]
        assert first == dev.LOCK_DIGEST + dev.dependency_digest(), (
            f"{name} is stale: run `python3 dev.py lock`"
        )
    dev.check_locks()


def test_every_locked_package_is_pinned_with_a_hash_and_the_image_installs_from_the_lock() -> None:
    text = (ROOT / "requirements.lock").read_text()
    packages = re.findall(
        r"^([A-Za-z0-9._-]+)==\S+ \\\n(?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+", text, re.M
    )
    assert len(packages) == len(re.findall(r"^[A-Za-z0-9._-]+==", text, re.M)) > 20
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "--no-deps ." in dockerfile
