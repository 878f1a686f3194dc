"""The HTTP edge of real service processes under attack from outside: bodies without a token, huge
declared lengths and bodies that never arrive are answered before they are read, floods of header
bytes and heads that never end are cut off; security headers, CORS and production docs; a slow or
absent JWKS server never stalls the process.

Raw sockets, so the test controls exactly which bytes are sent and when.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.natsserver import free_port
from tests.conftest import TEST_JWT_SECRET, TokenFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
WIDGET = "https://pms.example.com"
IDLE_TIMEOUT = 2.0  # the services' body idle timeout in this suite
MIB = 1024 * 1024


@dataclass
class Service:
    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def start(name: str, package: str, env: dict[str, str], tmp: Path) -> Service:
    port = free_port()
    prefix = "HELPDESK_" + name.upper().replace("-", "_") + "_"
    log = tmp / f"{name}-{port}.log"
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")},
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "services" / name)]),
        "HELPDESK_DATA_DIR": str(tmp / name),
        "HELPDESK_LOG_LEVEL": "WARNING",
        f"{prefix}PORT": str(port),
        f"{prefix}MIGRATE_ON_START": "true",
        f"{prefix}SHUTDOWN_GRACE_SECONDS": "1",
        **env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", package], env=full, stdout=out, stderr=out, cwd=ROOT
        )
    service = Service(name=name, url=f"http://127.0.0.1:{port}", port=port, process=process, log=log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, service.log_tail()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200:
                return service
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"{name} not ready:\n{service.log_tail()}")


def stop(service: Service) -> None:
    if service.process.poll() is None:
        service.process.terminate()
        try:
            service.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


@pytest.fixture(scope="module")
def services(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Service]]:
    """kb-search and notifications as processes in the test environment, with a short body timeout
    and one allowed CORS origin."""
    tmp = tmp_path_factory.mktemp("hostile-edge")
    common = {
        "HELPDESK_ENVIRONMENT": "test",
        "HELPDESK_NATS_URL": nats_url,
        "HELPDESK_NATS_PREFIX": f"edge{uuid.uuid4().hex[:8]}",
        "HELPDESK_JWT_SECRET": TEST_JWT_SECRET,
        "HELPDESK_CORS_ALLOW_ORIGINS": json.dumps([WIDGET]),
    }
    running: dict[str, Service] = {}
    try:
        for name, package in (("kb-search", "kb_search"), ("notifications", "notifications")):
            prefix = "HELPDESK_" + name.upper().replace("-", "_") + "_"
            env = {
                **common,
                f"{prefix}BODY_IDLE_TIMEOUT_SECONDS": str(IDLE_TIMEOUT),
                f"{prefix}HEAD_TIMEOUT_SECONDS": str(IDLE_TIMEOUT),
            }
            running[name] = start(name, package, env, tmp)
        yield running
    finally:
        for service in running.values():
            stop(service)


# The routes attacked in the report: a JSON body read whole before the 401.
TARGETS = [("kb-search", "/api/v1/kb/deflect"), ("notifications", "/api/v1/messages")]


def head(path: str, port: int, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one response on `sock` (bounded by the socket's timeout)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before a response: {data!r}")
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def error_code(body: bytes) -> str:
    parsed: dict[str, Any] = json.loads(body)
    assert set(parsed) == {"error"} and parsed["error"]["request_id"]
    return str(parsed["error"]["code"])


@pytest.mark.parametrize(("name", "path"), TARGETS)
def test_a_chunked_huge_body_without_a_token_gets_401_and_the_service_does_not_grow(
    services: dict[str, Service], name: str, path: str
) -> None:
    service = services[name]
    before = service.rss_kib()
    sent = 0
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(head(path, service.port, Transfer_Encoding="chunked"))

        def flood() -> None:
            nonlocal sent
            chunk = b"%x\r\n" % MIB + b"x" * MIB + b"\r\n"
            with contextlib.suppress(OSError):
                while sent < 200 * MIB:
                    sock.sendall(chunk)
                    sent += MIB

        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        status, headers, body = read_response(sock)
        assert (status, error_code(body)) == (401, "unauthorized")
        assert headers["connection"] == "close"
        sender.join(timeout=60)
    assert not sender.is_alive()
    grown_mib = (service.rss_kib() - before) / 1024
    assert grown_mib < 5, f"{name} grew by {grown_mib:.1f} MiB while {sent / MIB:.0f} MiB were sent"
    assert sent < 200 * MIB  # the connection was closed long before the body's end


@pytest.mark.parametrize(("name", "path"), TARGETS)
def test_a_declared_huge_length_gets_413_at_once(
    services: dict[str, Service], name: str, path: str, make_token: TokenFactory
) -> None:
    service = services[name]
    token = make_token(role="agent", account=None, sub="a1")
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
        sock.sendall(head(path, service.port, Authorization=f"Bearer {token}", Content_Length=str(10**10)))
        status, headers, body = read_response(sock)  # not a byte of the body was sent
    assert (status, error_code(body)) == (413, "payload_too_large")
    assert headers["connection"] == "close"


@pytest.mark.parametrize(("name", "path"), TARGETS)
def test_a_body_that_stops_arriving_gets_408_within_the_timeout(
    services: dict[str, Service], name: str, path: str, make_token: TokenFactory
) -> None:
    service = services[name]
    token = make_token(role="agent", account=None, sub="a1")
    # The socket's own timeout bounds the wait: the answer must come well before it.
    with socket.create_connection(("127.0.0.1", service.port), timeout=IDLE_TIMEOUT + 8) as sock:
        # Under the route's cap (a larger declared body is refused at once, see above).
        sock.sendall(head(path, service.port, Authorization=f"Bearer {token}", Content_Length="40960"))
        sock.sendall(b'{"text":')  # 8 bytes of 40 KB, then nothing
        status, headers, body = read_response(sock)
    assert (status, error_code(body)) == (408, "request_timeout")
    assert headers["connection"] == "close"


@pytest.mark.parametrize("name", ["kb-search", "notifications"])
def test_a_flood_of_header_bytes_gets_431_and_the_service_does_not_grow(
    services: dict[str, Service], name: str
) -> None:
    service = services[name]
    before = service.rss_kib()
    sent = 0
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")

        def flood() -> None:
            nonlocal sent
            with contextlib.suppress(OSError):
                while sent < 200 * MIB:
                    sock.sendall(b"X-Pad: " + b"a" * MIB + b"\r\n")
                    sent += MIB

        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        status, headers, body = read_response(sock)
        sender.join(timeout=60)
    assert (status, json.loads(body)["error"]["code"]) == (431, "request_header_fields_too_large")
    assert headers["connection"] == "close"
    grown_mib = (service.rss_kib() - before) / 1024
    assert grown_mib < 5, f"{name} grew by {grown_mib:.1f} MiB while {sent / MIB:.0f} MiB were sent"


@pytest.mark.parametrize("name", ["kb-search", "notifications"])
def test_headers_that_stop_arriving_get_408_within_the_timeout(
    services: dict[str, Service], name: str
) -> None:
    service = services[name]
    with socket.create_connection(("127.0.0.1", service.port), timeout=IDLE_TIMEOUT + 8) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and nothing more
        status, headers, body = read_response(sock)
    assert (status, json.loads(body)["error"]["code"]) == (408, "request_timeout")
    assert headers["connection"] == "close"


def test_json_answers_are_not_sniffed_nor_stored(
    services: dict[str, Service], make_token: TokenFactory
) -> None:
    url = services["notifications"].url
    me = {"Authorization": f"Bearer {make_token(role='user', account='hotel-a', sub='u1')}"}
    for response in (httpx.get(f"{url}/api/v1/popups", headers=me), httpx.get(f"{url}/api/v1/popups")):
        assert response.status_code in (200, 401)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("name", ["kb-search", "notifications"])
def test_cors_answers_the_configured_origin_and_refuses_others(
    services: dict[str, Service], name: str, make_token: TokenFactory
) -> None:
    url = services[name].url
    path = "/api/v1/kb/sections" if name == "kb-search" else "/api/v1/popups"
    ask = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    refused = httpx.options(f"{url}{path}", headers={**ask, "Origin": "https://evil.example"})
    assert refused.status_code == 403 and error_code(refused.content) == "forbidden"
    assert "access-control-allow-origin" not in refused.headers
    allowed = httpx.options(f"{url}{path}", headers={**ask, "Origin": WIDGET})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == WIDGET
    me = {"Authorization": f"Bearer {make_token(role='user', account='hotel-a', sub='u1')}"}
    called = httpx.get(f"{url}{path}", headers={**me, "Origin": WIDGET})
    assert called.headers["access-control-allow-origin"] == WIDGET
    other = httpx.get(f"{url}{path}", headers={**me, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


# Production RS256 with a JWKS URL -------------------------------------------------------------------


class Jwks:
    """A JWKS server on a free port (threaded), that can be held (it answers only when released)."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.hold = threading.Event()
        self.release = threading.Event()
        self.asked = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.asked.set()
                if owner.hold.is_set():
                    owner.release.wait(timeout=30)
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def rs256(private_key: rsa.RSAPrivateKey, kid: str, sub: str) -> str:
    now = int(time.time())
    claims = {
        "sub": sub,
        "role": "agent",
        "iss": "otelms",
        "aud": "otelms-helpdesk",
        "iat": now,
        "exp": now + 600,
    }
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid})


def test_in_production_a_slow_or_absent_jwks_server_never_stalls_the_service_and_docs_are_off(
    nats_url: str, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "use": "sig", "alg": "RS256"}
    jwks = Jwks([public])
    env = {
        "HELPDESK_ENVIRONMENT": "production",
        "HELPDESK_NATS_URL": nats_url,
        "HELPDESK_NATS_PREFIX": f"edge{uuid.uuid4().hex[:8]}",
        "HELPDESK_NATS_TOKEN": "a-real-token-for-a-server-that-asks-none",
        "HELPDESK_JWT_ALGORITHM": "RS256",
        "HELPDESK_JWT_JWKS_URL": jwks.url,
        "HELPDESK_JWT_JWKS_TIMEOUT_SECONDS": "20",
    }
    service = start("kb-search", "kb_search", env, tmp_path)
    try:
        url = service.url
        assert httpx.get(f"{url}/docs").status_code == 404
        assert httpx.get(f"{url}/openapi.json").status_code == 404
        # The process knows no key yet: the first token makes it ask the JWKS server, which holds.
        jwks.hold.set()
        first: dict[str, httpx.Response] = {}

        def call_with_unknown_kid() -> None:
            headers = {"Authorization": f"Bearer {rs256(key, 'k1', 'agent-1')}"}
            first["response"] = httpx.get(f"{url}/api/v1/kb/sections", headers=headers, timeout=40)

        caller = threading.Thread(target=call_with_unknown_kid)
        caller.start()
        assert jwks.asked.wait(timeout=10), service.log_tail()
        try:
            health = httpx.get(f"{url}/healthz", timeout=2)  # while the key set is on its way
        finally:
            jwks.release.set()
        assert health.status_code == 200
        caller.join(timeout=30)
        assert first["response"].status_code == 200, first["response"].text
        # The JWKS server goes away: tokens signed with the cached key keep verifying.
        jwks.close()
        fresh = {"Authorization": f"Bearer {rs256(key, 'k1', 'agent-2')}"}
        assert httpx.get(f"{url}/api/v1/kb/sections", headers=fresh, timeout=10).status_code == 200
        unknown = {"Authorization": f"Bearer {rs256(key, 'k2', 'agent-3')}"}
        refused = httpx.get(f"{url}/api/v1/kb/sections", headers=unknown, timeout=10)
        assert (refused.status_code, error_code(refused.content)) == (401, "unauthorized")
    finally:
        jwks.close()
        stop(service)
