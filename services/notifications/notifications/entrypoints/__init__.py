"""FastAPI routers: the recipient's popups, their live stream, and the agent's messages."""
