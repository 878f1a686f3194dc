"""Article bodies, compressed, in a scratch file of this process instead of its memory.

Ranking never reads a body; a rendered hit or `GET /articles/{id}` reads one (~10 µs: one `pread`,
from the page cache on a busy replica, and zlib). Held in the process, the compressed bodies were
~0.8 KiB an article of its resident memory (8 MiB at 10,000 articles); in the file they cost it
12 bytes an article (where each is), and the kernel keeps the file's pages in its page cache, which
it can drop under pressure and read back, instead of in the process's heap.

The file is the replica's own: it is made again from the article stream at every start (the replay
puts every body) and has no name (`tempfile.TemporaryFile`: unlinked, or never linked, from the
start), so it is gone when the process ends, however it ends. It lives in `directory` (setting
`HELPDESK_KB_SEARCH_BODIES_DIR`; the system's temporary folder when not set): on a disk, not a tmpfs,
or the bodies are back in memory — in Kubernetes an `emptyDir` without `medium: Memory`. A body is
written once, at its end; a replaced or retired one leaves a hole, and the file is rewritten without
its holes when they outgrow what is live.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from array import array
from pathlib import Path
from typing import IO

COMPRESSION = 1  # zlib's fastest level: 27 µs an article (level 6: 41 µs, 7% smaller)
COMPACT_AFTER = 1 << 20  # bytes of holes before the file may be rewritten without them
FREE = -1


class BodyFile:
    """Bodies by entry number: `put` one, `get` it back, `drop` it once no document shows it.
    Not thread-safe: one event loop writes and reads it."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._file: IO[bytes] | None = None  # opened with the first body
        self._offsets = array("q")  # per entry: where its bytes start (FREE: no body)
        self._sizes = array("I")
        self._free: list[int] = []  # entries to reuse
        self._end = 0
        self._live = 0

    def __len__(self) -> int:
        return len(self._offsets) - len(self._free)

    @property
    def size(self) -> int:
        """Bytes in the file, holes included."""
        return self._end

    def put(self, body: str) -> int:
        """Write `body` (compressed) at the end of the file; its entry number."""
        data = zlib.compress(body.encode(), COMPRESSION)
        self._write(data, self._end)
        if self._free:
            entry = self._free.pop()
            self._offsets[entry], self._sizes[entry] = self._end, len(data)
        else:
            entry = len(self._offsets)
            self._offsets.append(self._end)
            self._sizes.append(len(data))
        self._end += len(data)
        self._live += len(data)
        return entry

    def get(self, entry: int) -> str:
        offset = self._offsets[entry]
        if offset == FREE or self._file is None:
            raise LookupError(f"no body {entry}: dropped")
        return zlib.decompress(os.pread(self._file.fileno(), self._sizes[entry], offset)).decode()

    def drop(self, entry: int) -> None:
        """The entry's body is not needed any more (its number may be given to another body)."""
        self._live -= self._sizes[entry]
        self._offsets[entry], self._sizes[entry] = FREE, 0
        self._free.append(entry)
        holes = self._end - self._live
        if holes > COMPACT_AFTER and holes > self._live:
            self._compact()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, data: bytes, offset: int) -> None:
        if self._file is None:
            self._file = self._open()
        fd, view, written = self._file.fileno(), memoryview(data), 0
        while written < len(data):  # a regular file takes it all at once; a full disk raises
            written += os.pwrite(fd, view[written:], offset + written)

    def _open(self) -> IO[bytes]:
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryFile(prefix="kb-bodies-", dir=self.directory)

    def _compact(self) -> None:
        """Copy the live bodies into a new file, in entry order, and drop the old one."""
        assert self._file is not None
        old, self._file = self._file, self._open()
        end = 0
        for entry, offset in enumerate(self._offsets):
            if offset == FREE:
                continue
            data = os.pread(old.fileno(), self._sizes[entry], offset)
            self._write(data, end)
            self._offsets[entry] = end
            end += len(data)
        old.close()
        self._end = self._live = end
