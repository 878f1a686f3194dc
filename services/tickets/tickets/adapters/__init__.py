"""Adapters of the tickets service: the outbox relay, the object store, the event store."""
