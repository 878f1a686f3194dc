"""The tickets application layer: one method per command, batched into few store transactions."""
