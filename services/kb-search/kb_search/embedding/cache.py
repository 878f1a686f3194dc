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
    """Vectors by text key, all in memory, appended to disk as they are made (`directory=None`:
    memory only)."""

    def __init__(self, directory: Path | None, *, model_id: str, dim: int) -> None:
        self._dim = dim
        self._vectors: dict[bytes, Vectors] = {}
        self._lock = threading.Lock()
        self._path: Path | None = None
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
        records = np.frombuffer(raw, dtype=np.uint8, count=whole).reshape(-1, size)
        vectors = records[:, KEY_BYTES:].copy().view(np.float32)
        for key_row, vector in zip(records[:, :KEY_BYTES], vectors, strict=True):
            self._vectors[key_row.tobytes()] = vector

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: bytes) -> Vectors | None:
        return self._vectors.get(key)

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
