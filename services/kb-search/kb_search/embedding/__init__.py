"""The dense (embedding) signal: a multilingual sentence-embedding model behind a small interface
(`model`), document vectors cached on disk by model and text hash (`cache`), the per-language offset
that removes the model's preference for the query's own language (`bias`), and the replica's
document vectors, embedded off the request path (`dense`).

Optional by design: without the model the search index answers lexically and says so.
"""
