"""The chat's connections to the outside: the KV directory, the core NATS relay, tickets, statistics."""
