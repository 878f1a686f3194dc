"""Document vectors on disk, so a new replica does not embed the whole knowledge base again.

One append-only file per model (`<dir>/<model id>/vectors.f32`): records of the SHA-256 of the
embedded text (with its kind, query or passage) and the vector. Derived data, safe to delete: a
missing or truncated file only means texts are embedded again. Several processes may append to the
same file: each record is written by one `write` of an `O_APPEND` file, so records never interleave.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
from array import array
from bisect import bisect_left
from pathlib import Path

import numpy as np

from kb_search.embedding.model import Vectors

KEY_BYTES = 32


def text_key(kind: str, text: str) -> bytes:
    return hashlib.sha256(f"{kind}\x00{text}".encode()).digest()


class VectorCache:
    """Vectors by text key, appended to disk as they are made (`directory=None`: memory only).
    Vectors found on disk at start stay there, read back with `pread` when asked for: once a
    replica has installed its documents' vectors in its matrix, a second copy in memory would cost
    1.5 KiB per text (measured: 30 MiB for 10,000 articles). Where they are is kept as two sorted
    arrays, the first 8 bytes of each key and its record's offset (16 bytes a record; a dict of
    key → offset cost ~140, 2.8 MiB for 20,000 texts); a read compares the whole key it finds in
    the record, so two keys sharing their first 8 bytes are still told apart."""

    def __init__(self, directory: Path | None, *, model_id: str, dim: int) -> None:
        self._dim = dim
        self._vectors: dict[bytes, Vectors] = {}  # made by this process
        # The first 8 bytes of the records on disk at start as unsigned ints, sorted, and the
        # records' offsets in the same order: `array`s, whose items a lookup reads as Python ints
        # (numpy's scalars cost ~2 µs more a lookup; indexing reads two a document).
        self._prefixes = array("Q")
        self._offsets = array("q")
        self._on_disk = 0  # distinct keys among them
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._fd: int | None = None
        if directory is not None:
            folder = directory / re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)
            folder.mkdir(parents=True, exist_ok=True)
            self._path = folder / "vectors.f32"
            self._load(self._path)

    @property
    def record_bytes(self) -> int:
        return KEY_BYTES + 4 * self._dim

    def _load(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        size = self.record_bytes
        count = len(raw) // size  # a record cut short by a crash is dropped
        self._on_disk = len({raw[at : at + KEY_BYTES] for at in range(0, count * size, size)})
        records = np.frombuffer(raw, dtype=np.uint8, count=count * size).reshape(count, size)
        prefixes = np.ascontiguousarray(records[:, :8]).view(np.uint64).ravel()
        order = np.argsort(prefixes, kind="stable")  # a key written twice: its first record first
        self._prefixes = array("Q", prefixes[order].tobytes())
        self._offsets = array("q", (order.astype(np.int64) * size).tobytes())
        self._fd = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)

    def __len__(self) -> int:
        return self._on_disk + len(self._vectors)

    def get(self, key: bytes) -> Vectors | None:
        found = self._vectors.get(key)
        return found if found is not None else self._read(key)

    def _read(self, key: bytes) -> Vectors | None:
        """The vector of the first record on disk at start with this key, if any."""
        if self._fd is None:
            return None
        prefixes, size = self._prefixes, self.record_bytes
        prefix = int.from_bytes(key[:8], sys.byteorder)  # as `_load` read it: a native uint64
        at = bisect_left(prefixes, prefix)
        while at < len(prefixes) and prefixes[at] == prefix:
            raw = os.pread(self._fd, size, self._offsets[at])
            if len(raw) == size and raw[:KEY_BYTES] == key:
                return np.frombuffer(raw, dtype=np.float32, offset=KEY_BYTES)
            at += 1
        return None

    def put_many(self, items: list[tuple[bytes, Vectors]]) -> None:
        new = [
            (k, np.asarray(v, dtype=np.float32))
            for k, v in items
            if k not in self._vectors and self._read(k) is None
        ]
        if not new:
            return
        for key, vector in new:
            self._vectors[key] = vector
        if self._path is None:
            return
        payload = b"".join(key + vector.tobytes() for key, vector in new)
        with self._lock:
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, payload)
            finally:
                os.close(fd)
