"""`python -m kb_search` as a process: it migrates, serves, and exits cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.natsserver import free_port
from tests.conftest import TEST_JWT_SECRET, TokenFactory, auth

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


def test_the_service_process_serves_a_published_article_and_stops_on_sigterm(
    nats_url: str, nats_prefix: str, tmp_path: Path, make_token: TokenFactory
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'services' / 'kb-search'}",
        "HELPDESK_ENVIRONMENT": "test",
        "HELPDESK_NATS_URL": nats_url,
        "HELPDESK_NATS_PREFIX": nats_prefix,
        "HELPDESK_JWT_SECRET": TEST_JWT_SECRET,
        "HELPDESK_DATA_DIR": str(tmp_path),
        "HELPDESK_KB_SEARCH_PORT": str(port),
        "HELPDESK_KB_SEARCH_MIGRATE_ON_START": "true",
        "HELPDESK_KB_SEARCH_SHUTDOWN_GRACE_SECONDS": "2",
    }
    log = (tmp_path / "kb.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "kb_search"], env=env, stdout=log, stderr=log, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "kb.log").read_text()
            time.sleep(0.1)
        else:
            pytest.fail("kb-search did not become ready: " + (tmp_path / "kb.log").read_text()[-2000:])
        editor = auth(make_token(role="editor", account=None, sub="ed"))
        article = {
            "id": "kb:wifi",
            "lang": "pl",
            "section": "settings",
            "title": "Hasło do Wi-Fi",
            "body": "Hasło.",
        }
        created = httpx.post(f"{base}/api/v1/kb/articles", json=article, headers=editor, timeout=10)
        assert created.status_code == 201, created.text
        found = httpx.get(f"{base}/api/v1/kb/search", params={"q": "haslo wifi"}, headers=editor, timeout=10)
        assert [h["id"] for h in found.json()["hits"]] == ["kb:wifi"]
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the captured signal after its graceful shutdown.
        assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
        assert "kb_search_stopped" in (tmp_path / "kb.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
