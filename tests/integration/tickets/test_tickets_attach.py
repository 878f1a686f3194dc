"""Attachments in the real NATS Object Store: streaming, caps, hashes, sniffing, safe names."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from nats.aio.client import Client as NATS

from tickets.adapters.attachments import (
    AttachmentMissing,
    AttachmentStore,
    EmptyFile,
    FileTooLarge,
    UnsupportedFileType,
    bucket_name,
    content_disposition,
    ensure_bucket,
    sanitize_filename,
    sniff_content_type,
)

pytestmark = pytest.mark.integration

PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.fixture
async def store(nc: NATS, nats_prefix: str) -> AttachmentStore:
    bucket = bucket_name("ticket-attachments", nats_prefix)
    await ensure_bucket(nc.jetstream(), bucket=bucket)
    await ensure_bucket(nc.jetstream(), bucket=bucket)  # idempotent
    return AttachmentStore(nc.jetstream(), bucket=bucket, max_bytes=1_000_000)


async def read_all(store: AttachmentStore, name: str) -> tuple[bytes, int]:
    chunks = [chunk async for chunk in store.stream(name)]
    return b"".join(chunks), len(chunks)


async def test_a_file_larger_than_one_chunk_round_trips_with_its_sha256(store: AttachmentStore) -> None:
    content = PNG_HEAD + os.urandom(600_000)
    stored = await store.put(source=io.BytesIO(content), filename="photo.png")
    assert stored.size == len(content)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert stored.content_type == "image/png"
    data, chunks = await read_all(store, stored.object_name)
    assert data == content
    assert chunks > 1  # streamed chunk by chunk, not fetched whole
    assert await store.size_of(stored.object_name) == len(content)


async def test_a_file_over_the_cap_is_refused_while_streaming_and_leaves_nothing(
    store: AttachmentStore, nc: NATS
) -> None:
    content = PNG_HEAD + b"\x00" * 1_100_000
    with pytest.raises(FileTooLarge):
        await store.put(source=io.BytesIO(content), filename="big.png")
    info = await nc.jetstream().stream_info(f"OBJ_{store._bucket}")
    assert info.state.messages == 0


async def test_types_off_the_allow_list_and_empty_files_are_refused(store: AttachmentStore) -> None:
    with pytest.raises(UnsupportedFileType):
        await store.put(source=io.BytesIO(b"MZ\x90\x00" + b"\x00" * 100), filename="invoice.pdf")
    with pytest.raises(UnsupportedFileType):
        await store.put(source=io.BytesIO(b"<html><script>alert(1)</script></html>"), filename="a.txt")
    with pytest.raises(EmptyFile):
        await store.put(source=io.BytesIO(b""), filename="empty.txt")


async def test_a_deleted_or_unknown_object_is_missing(store: AttachmentStore) -> None:
    stored = await store.put(source=io.BytesIO(b"2026-01-01 ERROR boom\n"), filename="app.log")
    assert stored.content_type == "text/plain"
    await store.delete(stored.object_name)
    with pytest.raises(AttachmentMissing):
        await read_all(store, stored.object_name)
    with pytest.raises(AttachmentMissing):
        await store.size_of("no-such-object")


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"%PDF-1.7\n", "a.pdf", "application/pdf"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "a.jpg", "image/jpeg"),
        (
            b"PK\x03\x04" + b"\x00" * 30,
            "report.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (b"PK\x03\x04" + b"\x00" * 30, "logs.zip", "application/zip"),
        (bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 30, "old.doc", "application/msword"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "clip.mp4", "video/mp4"),
        ("дата;сума\n1;2\n".encode(), "export.csv", "text/csv"),
    ],
)
def test_content_types_are_sniffed_from_the_bytes(head: bytes, name: str, expected: str) -> None:
    assert sniff_content_type(head, name) == expected


def test_an_ole2_container_that_is_not_an_office_file_is_refused() -> None:
    with pytest.raises(UnsupportedFileType):
        sniff_content_type(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 30, "setup.msi")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\Звіт за травень.pdf", "Звіт за травень.pdf"),
        ('a<b>:c"d|e?.txt', "a_b_c_d_e_.txt"),
        ("\u202egnp.exe", "gnp.exe"),
        ("...", "file"),
        (None, "file"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_file_names_are_sanitised(raw: str | None, clean: str) -> None:
    assert sanitize_filename(raw) == clean


def test_the_content_disposition_is_an_attachment_with_an_ascii_fallback() -> None:
    header = content_disposition('Звіт "травень".pdf')
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''%D0%97" in header
    assert '"' not in header.split('filename="')[1].split('";')[0]
