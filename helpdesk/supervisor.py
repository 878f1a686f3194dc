"""Keeping `helpdesk up`'s children running: restart a crashed child with back-off, give up on a loop.

Each child (the bundled nats-server, every service, the gateway) is a `Supervised`: how to start it
and its `RestartPolicy`. The supervisor's loop calls `check(now)` on each; a child that exited on its
own is started again after a delay that doubles with each crash (0.5 s, 1 s, 2 s, … up to 30 s) and
falls back to the first delay once the child has stayed up for `stable_after` seconds. A child that
crashes `loop_limit` times within `loop_window` seconds is a crash loop: restarting it again would
only hide the fault, so the supervisor stops everything and says why.

The policy is plain arithmetic over the clock it is given, so its rules are tested without processes.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


@dataclass
class RestartPolicy:
    """When to start a crashed child again, and when to stop trying."""

    initial_delay: float = 0.5
    max_delay: float = 30.0
    factor: float = 2.0
    stable_after: float = 30.0
    loop_limit: int = 5
    loop_window: float = 60.0
    _crashes: deque[float] = field(default_factory=deque, repr=False)
    _delay: float = field(default=0.0, repr=False)

    def on_crash(self, *, now: float, uptime: float) -> float | None:
        """The delay before the next start, or `None` when this crash completes a crash loop."""
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > self.loop_window:
            self._crashes.popleft()
        if len(self._crashes) >= self.loop_limit:
            return None
        if uptime >= self.stable_after or self._delay == 0.0:
            self._delay = self.initial_delay
        else:
            self._delay = min(self._delay * self.factor, self.max_delay)
        return self._delay

    @property
    def recent_crashes(self) -> int:
        return len(self._crashes)


class ChildProcess(Protocol):
    """A child as the supervisor holds it: a `subprocess.Popen` or a forked service
    (`helpdesk.forking.ForkedProcess`)."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...
    def kill(self) -> None: ...


class Outcome(Enum):
    RUNNING = "running"
    WAITING = "waiting"  # crashed; a restart is scheduled
    RESTARTED = "restarted"
    GAVE_UP = "gave_up"


Say = Callable[[str], None]


def _say_on_stderr(line: str) -> None:
    print(f"helpdesk: {line}", file=sys.stderr, flush=True)


@dataclass
class Supervised:
    """One child process: `start()` spawns it (and waits until it serves, if it should)."""

    name: str
    start: Callable[[], ChildProcess | None]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    say: Say = _say_on_stderr
    process: ChildProcess | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    restarts: int = 0

    def launch(self, now: float | None = None) -> None:
        self.process = self.start()
        self.started_at = time.monotonic() if now is None else now
        self.restart_at = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def check(self, now: float) -> Outcome:
        """Notice a crash, schedule the restart, or perform it when its time has come."""
        if self.restart_at is None:
            if self.process is not None and self.process.poll() is None:
                return Outcome.RUNNING
            code = self.process.returncode if self.process is not None else None
            delay = self.policy.on_crash(now=now, uptime=now - self.started_at)
            if delay is None:
                self.say(
                    f"{self.name} exited with code {code} and keeps crashing "
                    f"({self.policy.recent_crashes} times in {self.policy.loop_window:.0f}s); stopping"
                )
                return Outcome.GAVE_UP
            self.say(f"{self.name} exited with code {code}; restarting it in {delay:g}s")
            self.restart_at = now + delay
            return Outcome.WAITING
        if now < self.restart_at:
            return Outcome.WAITING
        try:
            self.launch(now)
        except (OSError, RuntimeError, TimeoutError) as exc:  # it did not come up: count it as a crash
            self.say(f"{self.name} did not start again: {exc}")
            self.process, self.restart_at = None, None
            return self.check(now)
        self.restarts += 1
        self.say(f"{self.name} restarted (pid {self.pid}, restart {self.restarts})")
        return Outcome.RESTARTED
