"""Fixtures of the notifications integration suites (defined once in e2e/notifications/fixtures.py)."""

from tests.e2e.notifications.fixtures import nc, settings, sqlite_settings, store, store_kind

__all__ = ["nc", "settings", "sqlite_settings", "store", "store_kind"]
