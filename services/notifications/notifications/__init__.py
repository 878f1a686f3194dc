"""Popups: raised, delivered, snoozed, opened, deleted; live delivery over SSE."""
