"""The search engine: text analysis, the in-memory index, ranking and snippets.

Pure Python, no I/O: each replica feeds it the article events it replays from the stream, and the
HTTP layer queries it. Everything here is deterministic so two replicas fed the same events rank the
same way.
"""
