"""Attachment bytes in the NATS Object Store: streamed in with a cap, a hash and a sniffed type.

The Object Store has no per-object size limit of its own (ARCHITECTURE.md), so the cap is enforced
here while the bytes stream through, on top of the API's Content-Length check before the body is read.
The content type comes from the file's first bytes (`puremagic`), never from the client, and must be on
the allow-list. Downloads stream the object's chunks one by one: a file is never held in memory whole.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote

import puremagic
from nats.js import JetStreamContext
from nats.js.api import ObjectMeta, ObjectStoreConfig, StorageType
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from shared.logging import get_logger

log = get_logger(__name__)

SNIFF_BYTES = 8192
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")

ALLOWED_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "text/plain",
        "text/csv",
        "application/zip",
    }
)
# The file-name extensions of each allowed type, for a browser file picker's `accept` list (the
# sniffed type decides, not the name; but zip and OLE2 documents are told apart by it, see below).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/bmp": (".bmp",),
    "image/tiff": (".tif", ".tiff"),
    "application/pdf": (".pdf",),
    "application/msword": (".doc",),
    "application/vnd.ms-excel": (".xls",),
    "application/vnd.ms-powerpoint": (".ppt",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "application/vnd.oasis.opendocument.presentation": (".odp",),
    "video/mp4": (".mp4",),
    "video/quicktime": (".mov",),
    "video/webm": (".webm",),
    "text/plain": (".txt", ".log"),
    "text/csv": (".csv",),
    "application/zip": (".zip",),
}


def allowed_extensions() -> list[str]:
    """Every extension of an allowed type, sorted: what a file picker should offer."""
    return sorted({ext for mime in ALLOWED_TYPES for ext in EXTENSIONS[mime]})


# Zip and OLE2 containers look alike from their first bytes; the name's extension tells them apart.
ZIP_FAMILY = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
}
OLE2_FAMILY = {
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
}


class AttachmentError(Exception):
    """Raised when a file cannot be stored as an attachment (base of the errors below)."""


class FileTooLarge(AttachmentError):
    """Raised when a file is larger than the configured cap (found while streaming it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit} bytes")
        self.limit = limit


class UnsupportedFileType(AttachmentError):
    """Raised when a file's sniffed content type is not on the allow-list."""

    def __init__(self, detected: str | None) -> None:
        super().__init__(f"files of type {detected or 'unknown'} are not accepted")
        self.detected = detected


class EmptyFile(AttachmentError):
    """Raised when an uploaded file has no bytes."""


class AttachmentMissing(AttachmentError):
    """Raised when an attachment's bytes are not in the store (deleted, or never completed)."""


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*;]+')
_BLANKS = re.compile(r"\s+")


def sanitize_filename(name: str | None, *, max_length: int = 200) -> str:
    """A file name safe to store and to show: no path, no control or reserved characters, bounded."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    base = _UNSAFE.sub("_", base)
    base = _BLANKS.sub(" ", base).strip(" .")
    if not base:
        return "file"
    if len(base) > max_length:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:16] if dot and stem else ""
        base = (stem if ext else base)[: max_length - len(ext) - 1].rstrip(" .") + (f".{ext}" if ext else "")
    return base


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the RFC 6266 / 5987 UTF-8 name."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode() or "file"
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()\[\]-]", "_", ascii_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _extension(filename: str) -> str:
    _, dot, ext = filename.rpartition(".")
    return f".{ext.lower()}" if dot else ""


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is fine; anything else is binary.
        if exc.start < len(head) - 4:
            return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls <= len(head) // 100


def sniff_content_type(head: bytes, filename: str) -> str:
    """The content type of a file from its first bytes; `UnsupportedFileType` if not allowed."""
    ext = _extension(filename)
    if head.startswith(ZIP_MAGIC):
        return ZIP_FAMILY.get(ext, "application/zip")
    if head.startswith(OLE2_MAGIC):
        if ext in OLE2_FAMILY:
            return OLE2_FAMILY[ext]
        raise UnsupportedFileType("application/x-ole-storage")
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        matches = []
    allowed = [m for m in matches if m.mime_type in ALLOWED_TYPES]
    if allowed:
        same_ext = [m for m in allowed if m.extension.lower() == ext]
        return str((same_ext or allowed)[0].mime_type)
    if matches:
        raise UnsupportedFileType(next((m.mime_type for m in matches if m.mime_type), None))
    if _looks_like_text(head):
        return "text/csv" if ext == ".csv" else "text/plain"
    raise UnsupportedFileType(None)


class _CappedHashingReader:
    """A blocking reader for `ObjectStore.put` that counts, hashes and stops at the cap."""

    def __init__(self, source: BinaryIO, *, limit: int) -> None:
        self._source = source
        self._limit = limit
        self.size = 0
        self.sha256 = hashlib.sha256()

    def readinto(self, buffer: bytearray) -> int:
        chunk = self._source.read(len(buffer))
        n = len(chunk)
        self.size += n
        if self.size > self._limit:
            raise FileTooLarge(self._limit)
        buffer[:n] = chunk
        self.sha256.update(chunk)
        return n


@dataclass(frozen=True)
class StoredFile:
    attachment_id: uuid.UUID
    object_name: str
    filename: str
    content_type: str
    size: int
    sha256: str


def bucket_name(bucket: str, prefix: str) -> str:
    return f"{prefix}_{bucket}" if prefix else bucket


async def ensure_bucket(js: JetStreamContext, *, bucket: str, replicas: int = 1) -> None:
    """Create the attachments bucket if it is missing (idempotent; run by the migration step)."""
    try:
        await js.object_store(bucket)
    except (BucketNotFoundError, NotFoundError):
        await js.create_object_store(
            bucket, config=ObjectStoreConfig(storage=StorageType.FILE, replicas=replicas)
        )
        log.info("object_store_created", bucket=bucket)


class AttachmentStore:
    """Puts and streams attachment bytes in one Object Store bucket."""

    def __init__(self, js: JetStreamContext, *, bucket: str, max_bytes: int) -> None:
        self._js = js
        self._bucket = bucket
        self._max_bytes = max_bytes
        self._store: ObjectStore | None = None

    async def _obs(self) -> ObjectStore:
        if self._store is None:
            self._store = await self._js.object_store(self._bucket)
        return self._store

    async def ready(self) -> bool:
        await self._obs()
        return True

    async def put(self, *, source: BinaryIO, filename: str | None) -> StoredFile:
        """Stream `source` (a blocking, seekable file) into the store; its bytes are never all in memory."""
        safe_name = sanitize_filename(filename)
        head = await asyncio.to_thread(source.read, SNIFF_BYTES)
        if not head:
            raise EmptyFile("the file is empty")
        content_type = sniff_content_type(head, safe_name)
        await asyncio.to_thread(source.seek, 0)
        attachment_id = uuid.uuid4()
        object_name = str(attachment_id)
        reader = _CappedHashingReader(source, limit=self._max_bytes)
        obs = await self._obs()
        # `put` reads through `readinto` on a worker thread and purges the chunks if it raises.
        await obs.put(object_name, reader, meta=ObjectMeta(name=object_name, description=safe_name))  # type: ignore[arg-type]
        return StoredFile(
            attachment_id=attachment_id,
            object_name=object_name,
            filename=safe_name,
            content_type=content_type,
            size=reader.size,
            sha256=reader.sha256.hexdigest(),
        )

    async def delete(self, object_name: str) -> None:
        """Remove an object whose ticket command failed (best effort: an orphan costs only space)."""
        obs = await self._obs()
        try:
            await obs.delete(object_name)
        except (ObjectNotFoundError, NotFoundError):
            return

    async def size_of(self, object_name: str) -> int:
        obs = await self._obs()
        try:
            info = await obs.get_info(object_name)
        except (ObjectNotFoundError, NotFoundError):
            raise AttachmentMissing(object_name) from None
        return int(info.size or 0)

    async def stream(self, object_name: str, *, chunk_timeout: float = 10.0) -> AsyncIterator[bytes]:
        """The object's bytes, chunk by chunk, checked against the stored SHA-256 at the end."""
        obs = await self._obs()
        try:
            info = await obs.get_info(object_name)
        except (ObjectNotFoundError, NotFoundError):
            raise AttachmentMissing(object_name) from None
        if not info.size:
            return
        subject = f"$O.{self._bucket}.C.{info.nuid}"
        sub = await self._js.subscribe(subject, ordered_consumer=True)
        digest = hashlib.sha256()
        try:
            while True:
                msg = await sub.next_msg(timeout=chunk_timeout)
                digest.update(msg.data)
                yield msg.data
                if msg.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        expected = (info.digest or "").split("=", 1)[-1]
        if expected and _b64(digest.digest()) != expected.rstrip("="):
            log.error("attachment_digest_mismatch", object_name=object_name)
            raise AttachmentMissing(object_name)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
