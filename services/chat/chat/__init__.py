"""Live chat with a free support specialist; nothing is stored."""
