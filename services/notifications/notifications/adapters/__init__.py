"""NATS adapters: the relay (store → POPUPS stream), the tickets consumer, the SSE fan-out."""
