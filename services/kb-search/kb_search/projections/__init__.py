"""Read models derived from the article stream (this replica's search index)."""
