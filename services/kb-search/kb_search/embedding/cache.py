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
import threading
from pathlib import Path

import numpy as np

from kb_search.embedding.model import Vectors

KEY_BYTES = 32


def text_key(kind: str, text: str) -> bytes:
    return hashlib.sha256(f"{kind}\x00{text}".encode()).digest()


class VectorCache:
    """Vectors by text key, appended to disk as they are made (`directory=None`: memory only).
    Vectors found on disk at start stay there (the key maps to the record's offset, read back with
    `pread` when asked for): once a replica has installed its documents' vectors in its matrix, a
    second copy in memory would cost 1.5 KiB per text (measured: 30 MiB for 10,000 articles)."""

    def __init__(self, directory: Path | None, *, model_id: str, dim: int) -> None:
        self._dim = dim
        self._vectors: dict[bytes, Vectors | int] = {}
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
        whole = len(raw) - len(raw) % size  # a record cut short by a crash is dropped
        vectors = self._vectors
        for offset in range(0, whole, size):
            vectors.setdefault(raw[offset : offset + KEY_BYTES], offset + KEY_BYTES)
        self._fd = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: bytes) -> Vectors | None:
        found = self._vectors.get(key)
        if found is None or not isinstance(found, int):
            return found
        assert self._fd is not None
        size = 4 * self._dim
        raw = os.pread(self._fd, size, found)
        if len(raw) < size:
            return None
        return np.frombuffer(raw, dtype=np.float32)

    def put_many(self, items: list[tuple[bytes, Vectors]]) -> None:
        new = [(k, np.asarray(v, dtype=np.float32)) for k, v in items if k not in self._vectors]
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
