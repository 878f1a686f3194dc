"""NATS: one connection helper, idempotent provisioning of streams and buckets, dead-lettering.

`connection_options()` returns keyword arguments for `nats.connect()`, `broker_options()` the same
for faststream's `NatsBroker`, so every service connects the same way (reconnect forever, credentials
and TLS from settings). Provisioning is idempotent (create if missing, update if the config differs)
and is run by one migration step at start-up, not raced by replicas (see `helpdesk migrate`).
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shared.contracts.envelope import HEADER_DLQ_REASON, HEADER_DLQ_SUBJECT
from shared.contracts.subjects import DLQ_STREAM, StreamSpec, dead_letter_subject
from shared.logging import get_logger
from shared.settings import CommonSettings

log = get_logger(__name__)


def connection_options(settings: CommonSettings, *, name: str) -> dict[str, Any]:
    """Keyword arguments for `nats.connect` and `faststream.nats.NatsBroker`."""
    opts: dict[str, Any] = {
        "servers": [s.strip() for s in settings.nats_url.split(",") if s.strip()],
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 1,
        "connect_timeout": 5,
        "allow_reconnect": True,
    }
    if settings.nats_user:
        opts["user"] = settings.nats_user
    if settings.nats_password is not None:
        opts["password"] = settings.nats_password.get_secret_value()
    if settings.nats_token is not None:
        opts["token"] = settings.nats_token.get_secret_value()
    if settings.nats_creds_file is not None:
        opts["user_credentials"] = str(settings.nats_creds_file)
    if settings.nats_tls_ca_file or settings.nats_tls_cert_file:
        ctx = ssl.create_default_context(
            cafile=str(settings.nats_tls_ca_file) if settings.nats_tls_ca_file else None
        )
        if settings.nats_tls_cert_file and settings.nats_tls_key_file:
            ctx.load_cert_chain(str(settings.nats_tls_cert_file), str(settings.nats_tls_key_file))
        opts["tls"] = ctx
    return opts


def broker_options(settings: CommonSettings, *, name: str) -> dict[str, Any]:
    """Keyword arguments for `faststream.nats.NatsBroker`: the same connection as
    `connection_options`, with credentials and TLS as the broker's `security` object (the broker takes
    no `user`, `password` or `tls` argument)."""
    from faststream.nats.security import NatsCredentials, NatsSecurity, NatsToken, NatsUserPassword

    opts = connection_options(settings, name=name)
    tls = opts.pop("tls", None)
    user, password = opts.pop("user", None), opts.pop("password", None)
    token, creds = opts.pop("token", None), opts.pop("user_credentials", None)
    security: NatsSecurity | None = None
    if creds is not None:
        security = NatsCredentials(creds, ssl_context=tls)
    elif token is not None:
        security = NatsToken(token, ssl_context=tls)
    elif user is not None and password is not None:
        security = NatsUserPassword(user, password, ssl_context=tls)
    elif tls is not None:
        security = NatsSecurity(ssl_context=tls)
    if security is not None:
        opts["security"] = security
    return opts


async def connect(settings: CommonSettings, *, name: str) -> NATS:
    """A nats-py connection that reconnects forever and logs its state changes."""
    nc = NATS()

    async def on_error(exc: Exception) -> None:
        log.warning("nats_error", connection=name, error=str(exc))

    async def on_disconnected() -> None:
        # Draining or closing on shutdown disconnects too: that is not worth a warning.
        if not (nc.is_draining or nc.is_closed):
            log.warning("nats_disconnected", connection=name)

    async def on_reconnected() -> None:
        log.info("nats_reconnected", connection=name)

    await nc.connect(
        **connection_options(settings, name=name),
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
    )
    return nc


def stream_config(
    spec: StreamSpec,
    *,
    prefix: str = "",
    replicas: int = 1,
    storage: StorageType = StorageType.FILE,
    duplicate_window_seconds: float = 120.0,
    max_age_seconds: float | None = None,
) -> StreamConfig:
    name = spec.stream_name(prefix)
    subjects = [f"{prefix}.{s}" if prefix else s for s in spec.subjects]
    return StreamConfig(
        name=name,
        subjects=subjects,
        retention=RetentionPolicy.LIMITS,
        storage=storage,
        num_replicas=replicas,
        duplicate_window=duplicate_window_seconds,
        max_age=max_age_seconds,
        discard=DiscardPolicy.OLD,
        allow_direct=True,
    )


def _subjects_or_limits_differ(current: StreamConfig, wanted: StreamConfig) -> bool:
    return (
        sorted(current.subjects or []) != sorted(wanted.subjects or [])
        or current.duplicate_window != wanted.duplicate_window
        or current.max_age != wanted.max_age
    )


async def ensure_stream(
    js: JetStreamContext,
    config: StreamConfig,
    *,
    outdated: Callable[[StreamConfig, StreamConfig], bool] = _subjects_or_limits_differ,
) -> None:
    """Create the stream if it is missing; if `outdated(current, config)`, bring it up to date (by
    default when its subjects, duplicate window or age limit differ)."""
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("stream_created", stream=config.name)
        return
    if outdated(info.config, config):
        await js.update_stream(config)
        log.info("stream_updated", stream=config.name)


async def follow(
    js: JetStreamContext,
    *,
    stream: str,
    subject: str,
    cb: Callable[[Msg], Awaitable[None]],
    deliver: DeliverPolicy,
) -> JetStreamContext.PushSubscription:
    """An ordered consumer of `subject` on `stream`, from `deliver`: how a service follows
    another's events into memory (no durable state; after a gap the client reads on where it was)."""
    return await js.subscribe(subject, stream=stream, cb=cb, ordered_consumer=True, deliver_policy=deliver)


async def ensure_dead_letter_stream(js: JetStreamContext, *, prefix: str = "", replicas: int = 1) -> None:
    await ensure_stream(js, stream_config(DLQ_STREAM, prefix=prefix, replicas=replicas))


async def dead_letter(
    js: JetStreamContext,
    *,
    consumer: str,
    subject: str,
    data: bytes,
    headers: Mapping[str, str] | None,
    reason: str,
    prefix: str = "",
    msg_id: str | None = None,
) -> None:
    """Park a message that cannot be processed on `helpdesk.dlq.<consumer>` with the reason.

    The original subject and headers travel with it, so an operator can inspect and replay it.
    `msg_id` lets several replicas dead-letter the same message once (JetStream de-duplication).
    """
    out_headers = {k: v for k, v in (headers or {}).items() if not k.startswith("Nats-")}
    if msg_id:
        out_headers["Nats-Msg-Id"] = msg_id
    out_headers[HEADER_DLQ_REASON] = reason[:1000]
    out_headers[HEADER_DLQ_SUBJECT] = subject
    dlq = dead_letter_subject(consumer)
    await js.publish(f"{prefix}.{dlq}" if prefix else dlq, data, headers=out_headers)
    log.warning("dead_lettered", consumer=consumer, subject=subject, reason=reason[:200])


async def dead_letter_msg(
    js: JetStreamContext, msg: Msg, *, consumer: str, reason: str, prefix: str = "", msg_id: str | None = None
) -> None:
    await dead_letter(
        js,
        consumer=consumer,
        subject=msg.subject,
        data=msg.data,
        headers=msg.headers,
        reason=reason,
        prefix=prefix,
        msg_id=msg_id,
    )
