"""Whether a data folder was already migrated and seeded by this very code and configuration.

`helpdesk up` runs `migrate` and `seed` (two processes, ~6 s on the 2-core machine) before it starts
the services. Both are idempotent, so with data present they only cost time: after they succeed, `up`
writes `<data dir>/prepared.json` with a fingerprint of what decided their outcome — the code of the
product's packages (paths, sizes and modification times of their files), the installed libraries
(the site-packages folder changes whenever a package is added, removed or upgraded), the Python
version, the `HELPDESK_*` settings that choose stores and behaviour, and whether the demo was seeded.
The next `up` skips both steps when the fingerprint is the same and the data it wrote is still there;
anything else (an edit, an upgrade, a DSN, a deleted NATS folder) runs them again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

STAMP_FILE = "prepared.json"
PACKAGES = ("shared", "helpdesk", "tickets", "chat", "notifications", "kb_search")
# Where things listen (ports, hosts, URLs) does not change what is stored.
_IGNORED_SETTINGS_SUFFIXES = ("_PORT", "_HOST", "_URL", "_LOG_LEVEL", "_LOG_JSON")
# Nor how `up` starts the services (forked or spawned: `helpdesk.forking`).
_IGNORED_SETTINGS = {"HELPDESK_UP_FORK"}


def _package_files(name: str) -> Iterator[Path]:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return
    for location in spec.submodule_search_locations:
        for path in sorted(Path(location).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path


def fingerprint(environ: Mapping[str, str], *, seeded: bool) -> str:
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    nats_spec = importlib.util.find_spec("nats")
    if nats_spec is not None and nats_spec.origin is not None:
        site_packages = Path(nats_spec.origin).parents[1]
        digest.update(f"{site_packages}:{site_packages.stat().st_mtime_ns}".encode())
    for package in PACKAGES:
        for path in _package_files(package):
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    for key in sorted(environ):
        ignored = key in _IGNORED_SETTINGS or key.endswith(_IGNORED_SETTINGS_SUFFIXES)
        if key.startswith("HELPDESK_") and not ignored:
            digest.update(f"{key}={environ[key]}\n".encode())
    digest.update(b"seeded" if seeded else b"not seeded")
    return digest.hexdigest()


def _entries(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.name not in {STAMP_FILE, "up.json", "up.pids"})


def is_prepared(data_dir: Path, stamp: str) -> bool:
    """The stamp matches and every entry the data folder had when it was written is still there."""
    try:
        recorded = json.loads((data_dir / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict) or recorded.get("fingerprint") != stamp:
        return False
    entries = recorded.get("entries")
    return isinstance(entries, list) and set(entries) <= set(_entries(data_dir))


def mark_prepared(data_dir: Path, stamp: str) -> None:
    path = data_dir / STAMP_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": stamp, "entries": _entries(data_dir)}))
    tmp.replace(path)


def forget_prepared(data_dir: Path) -> None:
    (data_dir / STAMP_FILE).unlink(missing_ok=True)
