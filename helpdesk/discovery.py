"""Where the system's NATS listens, for the commands that talk to it.

`helpdesk up` records its NATS URL (whatever port it ended up on) and the gateway's URL in
`<data dir>/up.json` while it runs. A command that talks to the system (`migrate`, `seed`,
`rebuild …`, `kb import …`) then connects to, in order: `--nats-url`, `HELPDESK_NATS_URL`, the URL
recorded in `--data-dir` (else `HELPDESK_DATA_DIR`, else `.data`), else the default. Before it does
anything it checks that the server answers and holds the product's streams, so a command never
writes into some other NATS server that happens to listen on the default port.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

from shared.contracts.subjects import CHAT_STATS_STREAM, KB_STREAM, POPUPS_STREAM, TICKETS_STREAM, StreamSpec
from shared.nats import connection_options
from shared.settings import CommonSettings

RECORD_FILE = "up.json"
DEFAULT_DATA_DIR = ".data"
PROBE_SECONDS = 5.0
PRODUCT_STREAMS = (TICKETS_STREAM, POPUPS_STREAM, CHAT_STATS_STREAM, KB_STREAM)


class SystemNotReachable(Exception):
    """Raised when the NATS a command would use does not answer, or is not this product's."""


@dataclass(frozen=True)
class NatsChoice:
    url: str
    source: str  # where the URL came from, for messages


def record(data_dir: Path, *, nats_url: str, gateway_url: str | None = None) -> Path:
    """Write (atomically) where the running system listens."""
    path = data_dir / RECORD_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"nats_url": nats_url, "gateway_url": gateway_url, "pid": os.getpid()}))
    tmp.replace(path)
    return path


def forget(data_dir: Path) -> None:
    """Remove the record, if this process wrote it (a second `helpdesk up` that could not start
    leaves the first one's alone)."""
    found = recorded(data_dir)
    if found is not None and found.get("pid") == os.getpid():
        (data_dir / RECORD_FILE).unlink(missing_ok=True)


def recorded(data_dir: Path) -> dict[str, object] | None:
    try:
        value = json.loads((data_dir / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def data_dir_of(explicit: str | None, environ: Mapping[str, str]) -> Path:
    return Path(explicit or environ.get("HELPDESK_DATA_DIR") or DEFAULT_DATA_DIR)


def choose_nats_url(*, explicit: str | None, data_dir: Path, environ: Mapping[str, str]) -> NatsChoice:
    """The NATS URL a command uses, and where it came from (see the module's docstring)."""
    if explicit:
        return NatsChoice(explicit, "--nats-url")
    if environ.get("HELPDESK_NATS_URL"):
        return NatsChoice(environ["HELPDESK_NATS_URL"], "HELPDESK_NATS_URL")
    found = recorded(data_dir)
    if found is not None and isinstance(found.get("nats_url"), str) and found["nats_url"]:
        return NatsChoice(str(found["nats_url"]), f"recorded by `helpdesk up` in {data_dir / RECORD_FILE}")
    return NatsChoice(str(CommonSettings.model_fields["nats_url"].default), "the default")


async def probe(
    settings: CommonSettings,
    *,
    source: str,
    streams: tuple[StreamSpec, ...] = PRODUCT_STREAMS,
    need_all: bool = False,
) -> None:
    """Check that the NATS answers and holds the product's streams (any of `streams`, or all of them
    with `need_all`); `SystemNotReachable` with what to do otherwise."""
    where = f"{settings.nats_url} ({source})"
    nc = NATS()
    options = {**connection_options(settings, name="helpdesk-probe"), "allow_reconnect": False}
    options["connect_timeout"] = PROBE_SECONDS
    try:
        await asyncio.wait_for(nc.connect(**options), PROBE_SECONDS * 2)
    except (NatsError, OSError, TimeoutError) as exc:
        hint = " Is `helpdesk up` running?" if "helpdesk up" in source else ""
        raise SystemNotReachable(f"no NATS answers at {where}: {exc or type(exc).__name__}.{hint}") from None
    try:
        js = nc.jetstream(timeout=PROBE_SECONDS)
        present, missing = [], []
        for spec in streams:
            name = spec.stream_name(settings.nats_prefix)
            try:
                await js.stream_info(name)
            except NotFoundError:
                missing.append(name)
            except (NatsError, TimeoutError):  # JetStream off or not answering: not this product's
                missing.append(name)
            else:
                present.append(name)
    finally:
        await nc.close()
    if streams and ((need_all and missing) or not present):
        raise SystemNotReachable(
            f"the NATS at {where} has no {', '.join(missing)} stream{'s' if len(missing) > 1 else ''}: it is "
            "not this system's, or it was never migrated. Point at the right one with --nats-url or "
            "--data-dir (where `helpdesk up` records its NATS), or run `helpdesk migrate` against it."
        )
