"""The FAQ: knowledge-base articles and their search."""
