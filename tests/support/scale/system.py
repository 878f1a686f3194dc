"""The whole system scaled out on this machine, as in `deploy/k8s`: a 3-node NATS JetStream cluster,
PostgreSQL (a schema per service), one `helpdesk migrate` step, then replicas of every service as
real processes (`ServiceProcess`).

The victim is the node that leads the TICKETS stream; before the traffic it is also made the leader of
every other replicated stream and durable consumer (leader step-down with a preferred placement), so
its loss forces an election everywhere at once. Replicas that are "pinned" get only the victim's URL as
their seed (they connect to it first and learn the two others from the cluster's INFO, as a client
behind one Kubernetes Service address does); the others get all three URLs, as in
`deploy/k8s/base/config.yaml`. Pinning makes the loss cut the connections of the relay, the SSE
replica, a tickets API, a chat and a kb-search replica for certain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import psycopg
from nats.aio.client import Client as NATS

from shared.auth import Role, issue_dev_token
from shared.contracts.subjects import TICKETS_STREAM
from shared.nats import stream_config
from shared.natsserver import NatsCluster, NatsServer, free_port
from shared.service import env_prefix
from shared.settings import CommonSettings, Environment
from tests.conftest import TEST_JWT_SECRET
from tests.support.processes import ServiceProcess, clean_env
from tests.support.wait import eventually

REPLICAS = 3
TICKETS_PREFIX = env_prefix("tickets")


@dataclass
class Scaled:
    """The running system: the cluster, the stores and every process by role."""

    cluster: NatsCluster
    victim: NatsServer
    prefix: str
    postgres_dsn: str
    tickets_schema: str
    notifications_schema: str
    tmp: Path
    tickets: list[ServiceProcess] = field(default_factory=list)
    relay: ServiceProcess | None = None
    projector: ServiceProcess | None = None
    notifications: list[ServiceProcess] = field(default_factory=list)
    chat: list[ServiceProcess] = field(default_factory=list)
    kb: list[ServiceProcess] = field(default_factory=list)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    victim_leads: int = 0

    @property
    def http_services(self) -> list[ServiceProcess]:
        return [*self.tickets, *self.notifications, *self.chat, *self.kb]

    @property
    def workers(self) -> list[ServiceProcess]:
        return [p for p in (self.relay, self.projector) if p is not None]

    @property
    def survivors(self) -> list[NatsServer]:
        return [node for node in self.cluster.nodes if node is not self.victim]

    def common(self) -> CommonSettings:
        """Settings for this test process's own clients (tokens, store reads), on the survivors."""
        return CommonSettings(
            environment=Environment.TEST,
            nats_url=",".join(node.url for node in self.survivors),
            nats_prefix=self.prefix,
            jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
            nats_stream_replicas=REPLICAS,
        )

    def token(self, role: str, *, sub: str, account: str | None = None) -> str:
        return issue_dev_token(self.common(), role=Role(role), sub=sub, account_id=account, name=sub)

    def kill_victim(self) -> None:
        """SIGKILL the victim node (its JetStream store stays on disk; it is not restarted)."""
        self.victim.kill()


def base_env(*, nats_url: str, prefix: str, data_dir: Path) -> dict[str, str]:
    return clean_env(
        HELPDESK_ENVIRONMENT="test",
        HELPDESK_NATS_URL=nats_url,
        HELPDESK_NATS_PREFIX=prefix,
        HELPDESK_NATS_STREAM_REPLICAS=str(REPLICAS),
        HELPDESK_JWT_SECRET=TEST_JWT_SECRET,
        HELPDESK_LOG_LEVEL="INFO",
        HELPDESK_LOG_JSON="true",
        HELPDESK_DATA_DIR=str(data_dir),
        # The traffic files requests far faster than a person: limits raised, still counted.
        HELPDESK_RATE_LIMIT_CREATE_PER_USER="1000000",
        HELPDESK_RATE_LIMIT_REPLY_PER_USER="1000000",
        HELPDESK_RATE_LIMIT_UPLOAD_PER_USER="1000000",
        HELPDESK_RATE_LIMIT_STAFF_PER_USER="1000000",
    )


def store_env(*, dsn: str, tickets_schema: str, notifications_schema: str) -> dict[str, str]:
    return {
        "HELPDESK_TICKETS_POSTGRES_DSN": dsn,
        "HELPDESK_TICKETS_POSTGRES_SCHEMA": tickets_schema,
        "HELPDESK_NOTIFICATIONS_POSTGRES_DSN": dsn,
        "HELPDESK_NOTIFICATIONS_POSTGRES_SCHEMA": notifications_schema,
    }


@contextlib.contextmanager
def fresh_schemas(dsn: str, *names: str) -> Iterator[list[str]]:
    """A fresh PostgreSQL schema per name (one per service), dropped afterwards."""
    schemas = [f"s_{name}_{uuid.uuid4().hex[:10]}" for name in names]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'create schema "{schema}"')
    try:
        yield schemas
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'drop schema if exists "{schema}" cascade')


def run_migrate(env: dict[str, str], log_path: Path, *, timeout: float = 90) -> None:
    """`helpdesk migrate` once, for every service, before any replica starts (the Kubernetes Job)."""
    with log_path.open("wb") as log:
        done = subprocess.run(
            [sys.executable, "-m", "helpdesk.cli", "migrate"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    assert done.returncode == 0, log_path.read_text(errors="replace")[-4000:]


async def _stream_leader(url: str, stream: str) -> str:
    nc = await nats.connect(servers=url.split(","), connect_timeout=5, max_reconnect_attempts=3)
    try:
        info = await nc.jetstream().stream_info(stream)
        assert info.cluster is not None and info.cluster.leader, f"{stream} has no leader: {info}"
        assert info.config.num_replicas == REPLICAS, info.config
        return info.cluster.leader
    finally:
        await nc.close()


async def _wait_jetstream(url: str, timeout: float) -> None:
    nc = await nats.connect(servers=url.split(","), connect_timeout=5)

    async def meta_leader() -> bool:
        with contextlib.suppress(nats.errors.Error):
            reply = await nc.request("$JS.API.INFO", b"", timeout=1)
            return "error" not in json.loads(reply.data)
        return False

    try:
        await eventually(meta_leader, timeout=timeout, interval=0.2, what="a JetStream meta leader")
    finally:
        await nc.close()


def wait_jetstream(cluster: NatsCluster, *, timeout: float = 30) -> None:
    """The cluster elected its JetStream meta leader (before that, creating a stream times out)."""
    asyncio.run(_wait_jetstream(cluster.url, timeout))


async def _stepdown(nc: NATS, subject: str, preferred: str) -> None:
    body = json.dumps({"placement": {"preferred": preferred}}).encode()
    reply = json.loads((await nc.request(subject, body, timeout=10)).data)
    assert reply.get("success"), f"{subject}: {reply}"


async def _lead_from(url: str, node: str, timeout: float) -> dict[str, int]:
    """Move the leadership of every replicated stream and durable consumer to `node`."""
    nc = await nats.connect(servers=url.split(","), connect_timeout=5)
    js = nc.jetstream()
    try:
        deadline = time.monotonic() + timeout
        while True:
            led, moved = 0, 0
            for stream in await js.streams_info():
                name = stream.config.name
                assert name is not None
                assets = [(stream.cluster, f"STREAM.LEADER.STEPDOWN.{name}")]
                for consumer in await js.consumers_info(name):
                    if consumer.config.durable_name and (consumer.config.num_replicas or 0) != 1:
                        subject = f"CONSUMER.LEADER.STEPDOWN.{name}.{consumer.name}"
                        assets.append((consumer.cluster, subject))
                for cluster, subject in assets:
                    if cluster is None or not cluster.replicas:
                        continue  # not replicated: nothing to move
                    if cluster.leader == node:
                        led += 1
                    else:
                        moved += 1
                        await _stepdown(nc, f"$JS.API.{subject}", node)
            if not moved:
                return {"led": led}
            assert time.monotonic() < deadline, f"{moved} leaders not on {node} after {timeout}s"
            await asyncio.sleep(0.5)
    finally:
        await nc.close()


def lead_from(cluster: NatsCluster, node: NatsServer, *, timeout: float = 60) -> int:
    """Make `node` the leader of every replicated stream and durable consumer (so its loss hits
    every one of them: the relay's publications, the consumers, the buckets); how many it leads."""
    assert node.server_name is not None
    return asyncio.run(_lead_from(cluster.url, node.server_name, timeout))["led"]


def stream_leader(cluster: NatsCluster, prefix: str) -> NatsServer:
    """The node that leads the TICKETS stream (the one whose loss forces a leader election)."""
    name = stream_config(TICKETS_STREAM, prefix=prefix).name
    assert name is not None
    leader = asyncio.run(_stream_leader(cluster.url, name))
    return next(node for node in cluster.nodes if node.server_name == leader)


def wait_metrics(process: ServiceProcess, port: int, *, timeout: float = 60) -> None:
    """The relay and the projector serve no /readyz, only /metrics (on `METRICS_PORT`)."""
    process.wait_ready(timeout, url=f"http://127.0.0.1:{port}/metrics")


@contextlib.contextmanager
def scaled_system(tmp: Path, postgres_dsn: str) -> Iterator[Scaled]:
    prefix = f"sc{uuid.uuid4().hex[:8]}"
    cluster = NatsCluster(base_dir=tmp / "nats", size=3)
    with fresh_schemas(postgres_dsn, "tickets", "notifications") as (tickets_schema, notif_schema):
        processes: list[ServiceProcess] = []
        try:
            cluster.start()
            wait_jetstream(cluster)
            stores = store_env(
                dsn=postgres_dsn, tickets_schema=tickets_schema, notifications_schema=notif_schema
            )
            migrate_env = {
                **base_env(nats_url=cluster.url, prefix=prefix, data_dir=tmp / "migrate"),
                **stores,
            }
            run_migrate(migrate_env, tmp / "migrate.log")
            victim = stream_leader(cluster, prefix)
            system = Scaled(
                cluster=cluster,
                victim=victim,
                prefix=prefix,
                postgres_dsn=postgres_dsn,
                tickets_schema=tickets_schema,
                notifications_schema=notif_schema,
                tmp=tmp,
            )

            def start(
                module: str, env_prefix: str, name: str, *, pinned: bool, **extra: str
            ) -> ServiceProcess:
                url = victim.url if pinned else cluster.url
                env = {**base_env(nats_url=url, prefix=prefix, data_dir=tmp / name), **stores, **extra}
                process = ServiceProcess(
                    module=module, env=env, log_path=tmp / f"{name}.log", env_prefix=env_prefix
                )
                processes.append(process.start())
                return process

            api = {f"{TICKETS_PREFIX}RUN_RELAY": "false", f"{TICKETS_PREFIX}RUN_PROJECTION": "false"}
            system.tickets = [
                start("tickets", TICKETS_PREFIX, "tickets-a", pinned=True, **api),
                start("tickets", TICKETS_PREFIX, "tickets-b", pinned=False, **api),
            ]
            relay_port, projector_port = free_port(), free_port()
            system.relay = start(
                "tickets.relay", "", "relay", pinned=True, HELPDESK_TICKETS_METRICS_PORT=str(relay_port)
            )
            system.projector = start(
                "tickets.projector",
                "",
                "projector",
                pinned=False,
                HELPDESK_TICKETS_METRICS_PORT=str(projector_port),
            )
            system.notifications = [
                start("notifications", "HELPDESK_NOTIFICATIONS_", f"notifications-{n}", pinned=n == "a")
                for n in ("a", "b")
            ]
            tickets_url = system.tickets[0].url  # chat files requests through one tickets replica
            system.chat = [
                start(
                    "chat",
                    "HELPDESK_CHAT_",
                    f"chat-{n}",
                    pinned=n == "a",
                    HELPDESK_CHAT_TICKETS_URL=tickets_url,
                )
                for n in ("a", "b")
            ]
            system.kb = [
                start("kb_search", "HELPDESK_KB_SEARCH_", f"kb-{n}", pinned=n == "a") for n in ("a", "b")
            ]
            for process in system.http_services:
                process.wait_ready(timeout=90)
            system.metrics_ports = {"relay": relay_port, "projector": projector_port}
            wait_metrics(system.relay, relay_port)
            wait_metrics(system.projector, projector_port)
            system.victim_leads = lead_from(cluster, victim)
            for process in system.http_services:
                process.wait_ready(timeout=30)
            yield system
        finally:
            for process in processes:  # SIGTERM to all first: they drain in parallel
                if process.process is not None and process.process.poll() is None:
                    process.process.send_signal(signal.SIGTERM)
            for process in processes:
                with contextlib.suppress(Exception):
                    process.terminate(timeout=15)
            cluster.stop()
