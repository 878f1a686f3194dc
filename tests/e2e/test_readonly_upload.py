"""The tickets service under the Kubernetes manifests' constraints: a read-only root filesystem with one
writable, size-limited directory (`/tmp`, TMPDIR), where a 10 MB upload must succeed.

Method: the service runs in a mount namespace of its own (`unshare --mount`, as root), where every
writable mount of this machine (`/`, `/dev/shm`) is remounted read-only — for that namespace only —
and a size-limited tmpfs is mounted on `/tmp`, as the pod's `emptyDir` with `sizeLimit`. Any write
anywhere else fails with EROFS, so a successful upload proves the multipart spool (python-multipart
spools a part over 1 MiB to a temporary file) goes to the declared directory and nowhere else. The
counter-check runs the same service with `/tmp` left read-only (its data on a tmpfs elsewhere): a
2 MiB upload then fails, as it did in the cluster before `/tmp` was declared; 100 KiB still works.
NATS runs outside the namespace; the service's store is SQLite under /tmp (production uses
PostgreSQL, over the network, so nothing else would be written there).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from shared.auth import Role, issue_dev_token
from shared.natsserver import NatsServer, free_port
from shared.settings import CommonSettings, Environment
from tests.support.processes import clean_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JWT_SECRET = "read-only-upload-e2e-secret-long-enough-for-hs256-01"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
MIB = 2**20


def can_unshare() -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -o remount,bind,ro / && ! touch /",
        ],
        capture_output=True,
        timeout=10,
    )
    return probe.returncode == 0


requires_unshare = pytest.mark.skipif(not can_unshare(), reason="needs root and unshare --mount")


def token() -> str:
    settings = CommonSettings(
        environment=Environment.DEVELOPMENT, jwt_algorithm="HS256", jwt_secret=SecretStr(JWT_SECRET)
    )
    return issue_dev_token(settings, role=Role.USER, sub="reception-1", account_id="ro-hotel", name="R")


ROOT = Path(__file__).resolve().parents[2]
# Where a checkout under the directory the tmpfs covers (a clone in /tmp) is kept in sight meanwhile.
STAGE = "/srv"


def _covered(path: Path, hidden_by: str) -> bool:
    return path.is_relative_to(hidden_by)


def keep_visible(path: Path, *, hidden_by: str) -> list[str]:
    """Before the tmpfs covers `hidden_by`: its current contents bound at `STAGE`, read-only."""
    if not _covered(path, hidden_by):
        return []
    return [f"mount --bind {hidden_by} {STAGE}", f"mount -o remount,bind,ro {STAGE}"]


def restore(path: Path, *, hidden_by: str) -> list[str]:
    """After it: the checkout (this code and its virtualenv) bound back at its own path, read-only,
    on a mount point made inside the tmpfs; nothing of it is writable."""
    if not _covered(path, hidden_by):
        return []
    staged = shlex.quote(f"{STAGE}/{path.relative_to(hidden_by)}")
    target = shlex.quote(str(path))
    return [f"mkdir -p {target}", f"mount --bind {staged} {target}", f"mount -o remount,bind,ro {target}"]


@contextmanager
def tickets_read_only(nats: NatsServer, log: Path, *, writable_tmp: bool) -> Iterator[str]:
    """`python -m tickets` with every mount read-only but a 64 MiB tmpfs: on /tmp (TMPDIR, the data
    dir) when `writable_tmp`, else on /mnt (the data dir only; /tmp stays read-only)."""
    port = free_port()
    writable = "/tmp" if writable_tmp else "/mnt"
    script = " && ".join(
        [
            *keep_visible(ROOT, hidden_by=writable),
            "mount -o remount,bind,ro /",
            "mount -o remount,bind,ro /dev/shm",
            f"mount -t tmpfs -o size=64m,mode=1777 tmpfs {writable}",
            *restore(ROOT, hidden_by=writable),
            f"exec {shlex.quote(sys.executable)} -m tickets",
        ]
    )
    env = clean_env(
        HELPDESK_ENVIRONMENT="development",
        HELPDESK_JWT_SECRET=JWT_SECRET,
        HELPDESK_NATS_URL=nats.url,
        HELPDESK_DATA_DIR=f"{writable}/helpdesk",
        HELPDESK_TICKETS_HOST="127.0.0.1",
        HELPDESK_TICKETS_PORT=str(port),
        HELPDESK_TICKETS_MIGRATE_ON_START="true",
        TMPDIR="/tmp",
        PYTHONDONTWRITEBYTECODE="1",
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        with httpx.Client(timeout=2) as client:
            while True:
                assert process.poll() is None, log.read_text()[-4000:]
                with suppress(httpx.HTTPError):
                    if client.get(f"{url}/readyz").status_code == 200:
                        break
                assert time.monotonic() < deadline, log.read_text()[-4000:]
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def upload(url: str, size: int) -> httpx.Response:
    content = PNG + b"\x00" * (size - len(PNG))
    with httpx.Client(timeout=60) as client:
        return client.post(
            f"{url}/api/v1/tickets",
            data={
                "topic": "other",
                "comment": "Scan",
                "message": "The scan of the invoice",
                "importance": "low",
            },
            files={"file": ("scan.png", content, "image/png")},
            headers={"Authorization": f"Bearer {token()}"},
        )


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(store_dir=tmp_path / "nats") as server:
        yield server


@requires_unshare
def test_a_10_mb_upload_succeeds_with_only_tmp_writable(nats: NatsServer, tmp_path: Path) -> None:
    with tickets_read_only(nats, tmp_path / "tickets.log", writable_tmp=True) as url:
        response = upload(url, 10 * 1000 * 1000)
        assert response.status_code == 201, response.text
        ticket = response.json()
        with httpx.Client(timeout=30) as client:
            detail = client.get(
                f"{url}/api/v1/tickets/{ticket['id']}", headers={"Authorization": f"Bearer {token()}"}
            )
        assert detail.status_code == 200
        assert "scan.png" in detail.text


@requires_unshare
def test_without_a_writable_tmp_a_spooled_upload_fails_and_a_small_one_does_not(
    nats: NatsServer, tmp_path: Path
) -> None:
    with tickets_read_only(nats, tmp_path / "tickets.log", writable_tmp=False) as url:
        assert upload(url, 100 * 1024).status_code == 201
        refused = upload(url, 2 * MIB)
    # What the cluster answered before /tmp was declared: the parser could not spool the part.
    assert refused.status_code == 400, refused.text
    assert "error parsing the body" in refused.text
