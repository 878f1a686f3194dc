"""Articles and their lifecycle rules; no FastAPI, NATS, SQL or settings here."""
