"""Requests (tickets) as event streams, history views and the published ticket events."""
