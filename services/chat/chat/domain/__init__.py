"""The chat's rules: a chat's lifecycle (`session`), who waits in what order, a specialist's
capacity, intake validation, limits.

Pure: no FastAPI, NATS or settings imports. Nothing here holds message text for longer than a call.
"""
