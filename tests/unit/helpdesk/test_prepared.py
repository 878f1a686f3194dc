"""`helpdesk up` skips migrate and seed only for a data folder prepared by the same code and settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpdesk import prepared

ENV = {"HELPDESK_ENVIRONMENT": "development", "HELPDESK_TICKETS_PORT": "8701", "PATH": "/usr/bin"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "nats").mkdir()
    (tmp_path / "tickets.sqlite").write_bytes(b"")
    return tmp_path


def test_a_folder_marked_with_the_same_fingerprint_is_prepared(data_dir: Path) -> None:
    stamp = prepared.fingerprint(ENV, seeded=True)
    assert not prepared.is_prepared(data_dir, stamp)
    prepared.mark_prepared(data_dir, stamp)
    assert prepared.is_prepared(data_dir, prepared.fingerprint(ENV, seeded=True))


def test_ports_and_other_programs_settings_do_not_count_but_a_store_setting_does() -> None:
    stamp = prepared.fingerprint(ENV, seeded=True)
    assert prepared.fingerprint({**ENV, "HELPDESK_TICKETS_PORT": "9701", "HOME": "/x"}, seeded=True) == stamp
    with_dsn = {**ENV, "HELPDESK_TICKETS_DSN": "postgresql://postgres@127.0.0.1/test"}
    assert prepared.fingerprint(with_dsn, seeded=True) != stamp
    assert prepared.fingerprint(ENV, seeded=False) != stamp


def test_an_edited_source_file_changes_the_fingerprint(tmp_path: Path) -> None:
    source = Path(prepared.__file__)
    before = prepared.fingerprint(ENV, seeded=True)
    stat = source.stat()
    try:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert prepared.fingerprint(ENV, seeded=True) != before
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert prepared.fingerprint(ENV, seeded=True) == before


def test_a_deleted_store_or_nats_folder_makes_it_unprepared(data_dir: Path) -> None:
    stamp = prepared.fingerprint(ENV, seeded=True)
    prepared.mark_prepared(data_dir, stamp)
    (data_dir / "tickets.sqlite").unlink()
    assert not prepared.is_prepared(data_dir, stamp)
    prepared.mark_prepared(data_dir, stamp)
    (data_dir / "nats").rmdir()
    assert not prepared.is_prepared(data_dir, stamp)


def test_new_files_beside_the_data_do_not_matter_and_forget_removes_the_mark(data_dir: Path) -> None:
    stamp = prepared.fingerprint(ENV, seeded=True)
    prepared.mark_prepared(data_dir, stamp)
    (data_dir / "caddy.log").write_text("later")
    assert prepared.is_prepared(data_dir, stamp)
    prepared.forget_prepared(data_dir)
    assert not prepared.is_prepared(data_dir, stamp)
