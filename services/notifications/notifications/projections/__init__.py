"""Read models derived from the store's notification log; rebuildable by replaying it."""
