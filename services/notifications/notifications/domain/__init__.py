"""The popup aggregate and its rules: pure Python, no FastAPI, NATS, SQL or settings."""
