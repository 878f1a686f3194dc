#!/usr/bin/env python3
"""The two commands a newcomer runs on a fresh clone, with nothing but Python 3.11+ installed.

    python3 dev.py up      # set up, then run the whole system on the embedded default
    python3 dev.py test    # set up, then lint, type-check and run the whole test suite

Set-up is a virtual environment in `.venv` with the project installed in editable mode; it is
redone only when `pyproject.toml` changes. Anything after the command is passed on
(`python3 dev.py test -k relay`, `python3 dev.py up --port-base 9000`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HELPDESK_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".helpdesk-installed"


def _run(*args: str | Path) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT)


def setup() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    print("installing the project and its test tools (once per change of pyproject.toml)", flush=True)
    if _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip") != 0:
        sys.exit("could not upgrade pip")
    if _run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]") != 0:
        sys.exit("could not install the project")
    STAMP.write_text(wanted)


def test(extra: list[str]) -> int:
    steps: list[tuple[str, list[str | Path]]] = [
        ("ruff", [PY, "-m", "ruff", "check", "."]),
        ("mypy", [PY, "-m", "mypy", "shared", "helpdesk", "services", "tests", "benchmarks"]),
        ("pytest", [PY, "-m", "pytest", *extra]),
    ]
    failed = []
    for name, cmd in steps:
        print(f"\n=== {name} ===", flush=True)
        if _run(*cmd) != 0:
            failed.append(name)
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", flush=True)
        return 1
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"up", "test", "setup"}:
        print(__doc__)
        return 2
    command, extra = sys.argv[1], sys.argv[2:]
    setup()
    if command == "setup":
        return 0
    if command == "test":
        return test(extra)
    os.execv(str(BIN / "helpdesk"), [str(BIN / "helpdesk"), "up", *extra])
    return 0  # pragma: no cover


if __name__ == "__main__":
    raise SystemExit(main())
