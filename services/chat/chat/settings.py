"""Settings of the chat service (`HELPDESK_CHAT_*`, plus the common `HELPDESK_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ChatSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_CHAT_", extra="ignore", frozen=True)

    port: int = 8703
    # Chat frames are short: compression saves little and its zlib buffers cost 95.1 against 52.5 KiB a
    # socket (+210 MiB at 5,000 conversations; `benchmarks/chat_latency.py --deflate`). The widget and
    # the console ping every 25 s themselves, so the server's own ping (for silent dead clients) can
    # be rarer than uvicorn's 20 s (250 pings a second at 5,000 sockets, ~6% of a process's samples).
    ws_per_message_deflate: bool = False
    ws_ping_interval_seconds: float = Field(default=60.0, gt=0, le=600)
    # The tickets service, for "turn this chat into a request" (on the user's behalf, with their token).
    tickets_url: str = "http://127.0.0.1:8701"
    tickets_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    ticket_topic: str = Field(default="chat", min_length=1, max_length=64)
    # Region assumed for phone numbers typed without a country code.
    default_region: str = Field(default="UA", pattern=r"^[A-Z]{2}$")
    # KV bucket (memory storage) for presence and the queue; the common NATS prefix is prepended.
    kv_bucket: str = Field(default="CHAT", pattern=r"^[A-Za-z0-9_-]+$")
    # Each process's heartbeat key expires unless it is rewritten (every third of this), and with it
    # the process's entries: a crashed process's users and specialists vanish after at most this long.
    presence_ttl_seconds: float = Field(default=30.0, ge=1, le=3600)
    # A specialist whose WebSocket closed keeps their chats this long, then goes away and their users
    # go back to the head of the queue.
    agent_grace_seconds: float = Field(default=15.0, ge=0, le=600)
    # Past this wait the user is offered to turn the question into a request.
    max_wait_seconds: float = Field(default=120.0, gt=0, le=86400)
    # A connection that sends nothing for this long is closed (the session ends).
    idle_timeout_seconds: float = Field(default=600.0, gt=0, le=86400)
    auth_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_frame_bytes: int = Field(default=8192, ge=256, le=200_000)
    max_message_chars: int = Field(default=2000, ge=1, le=100_000)
    max_question_chars: int = Field(default=500, ge=1, le=10_000)
    max_name_chars: int = Field(default=100, ge=1, le=1000)
    transcript_max_lines: int = Field(default=200, ge=1, le=10_000)
    # Frames a second per connection (token bucket) and the burst allowed.
    rate_per_second: float = Field(default=5.0, gt=0, le=1000)
    rate_burst: int = Field(default=20, ge=1, le=10_000)
    # This many rejected frames within 10 s is abuse: the connection is closed (1008).
    abuse_threshold: int = Field(default=200, ge=1, le=100_000)
    # Chats open at once (waiting or talking), across every chat process: per user (two lets a
    # reconnect start its new session before the server has noticed the old socket dropped) and per
    # hotel account; one more is refused with a `too_many_chats` error frame.
    max_chats_per_user: int = Field(default=2, ge=1, le=100)
    max_chats_per_account: int = Field(default=5, ge=1, le=10_000)
    # A chat about a topic is offered first to the free specialists of the topic's team (the support
    # directory's); with this on it goes to anyone free when none of them can take it now.
    route_to_any_team: bool = True
    default_capacity: int = Field(default=3, ge=1, le=100)
    max_capacity: int = Field(default=20, ge=1, le=1000)
    # Content-free statistics events (started, assigned, ended) on JetStream `helpdesk.chat.v1.*`.
    publish_stats: bool = True
    # How often each process re-checks waits, grace periods, positions and assignments.
    tick_seconds: float = Field(default=0.5, gt=0, le=10)
    # The queue frame specialists see is sent at most once this often (changes meanwhile make one).
    queue_update_seconds: float = Field(default=0.5, ge=0.05, le=10)
