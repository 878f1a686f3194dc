"""Read models of the tickets service: the history views (request lists, timelines)."""
