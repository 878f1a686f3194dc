"""Entries of this process that nothing here holds any more, deleted one TTL after they were left.

Entries live as long as their process's heartbeat, so one this process no longer holds would stay:
a delete that NATS did not take (away at that moment: a closed chat, a seat given back, a specialist
disconnecting) or a specialist's entry past the grace period. When entries were rewritten on a timer
these simply expired with the TTL; now the hub deletes each one TTL after it first saw it left over,
at the revision it saw (one written since is left alone).
"""

from __future__ import annotations

from collections.abc import Collection

from chat.adapters.directory import AGENT, QUEUE, SEAT, Directory


class Leftovers:
    def __init__(self, directory: Directory, proc: str) -> None:
        self._directory = directory
        self._proc = proc
        self._seen: dict[str, tuple[int, float]] = {}  # key -> (revision, when first seen left over)

    def sweep(self, *, sessions: Collection[str], agents: Collection[str], now: float, after: float) -> None:
        """Note this process's entries whose session (`sessions`) or specialist (`agents`) is not held
        here; hand those left over for `after` seconds at one revision to `Directory.reclaim`."""
        directory = self._directory
        found: dict[str, int] = {}
        for sid, held in directory.queue.items():
            if held.value.proc == self._proc and sid not in sessions:
                found[QUEUE + sid] = held.revision
        for akey, presence in directory.agents.items():
            if presence.value.proc == self._proc and akey not in agents:
                found[AGENT + akey] = presence.revision
        for ident, seat in directory.seats.items():
            if seat.value.proc == self._proc and seat.value.sid not in sessions:
                found[SEAT + ident] = seat.revision
        seen: dict[str, tuple[int, float]] = {}
        for key, revision in found.items():
            first = self._seen.get(key)
            since = first[1] if first is not None and first[0] == revision else now
            if now - since >= after:
                directory.stale[key] = revision
            else:
                seen[key] = (revision, since)
        self._seen = seen
