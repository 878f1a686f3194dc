"""Fixtures of the notifications e2e suites (defined once in `fixtures.py`)."""

from tests.e2e.notifications.fixtures import nc, settings, sqlite_settings, store, store_kind

__all__ = ["nc", "settings", "sqlite_settings", "store", "store_kind"]
