"""The chat's use cases, per process: the users' desk, the specialists' desk, and the hub running them."""
