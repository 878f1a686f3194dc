"""WebSocket endpoints of the chat service."""
