"""Use cases: one method per command (get, call the aggregate, one `save`), and the store's readers."""
