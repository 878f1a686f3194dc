"""The extensions offered to a file picker match the content types the upload accepts."""

from __future__ import annotations

import pytest

from tickets.adapters.attachments import (
    ALLOWED_TYPES,
    EXTENSIONS,
    OLE2_FAMILY,
    ZIP_FAMILY,
    allowed_extensions,
)

pytestmark = pytest.mark.unit


def test_every_allowed_type_has_extensions_and_no_other_type_does() -> None:
    assert set(EXTENSIONS) == ALLOWED_TYPES
    assert all(EXTENSIONS[mime] for mime in ALLOWED_TYPES)


def test_the_names_that_tell_office_documents_apart_are_all_offered() -> None:
    for ext, mime in {**ZIP_FAMILY, **OLE2_FAMILY}.items():
        assert ext in EXTENSIONS[mime]
    offered = allowed_extensions()
    assert offered == sorted(set(offered))
    assert {".pdf", ".png", ".jpg", ".doc", ".docx", ".zip", ".mp4"} <= set(offered)
