"""The dense signal's metrics (one registration per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DENSE_STATE = Gauge("helpdesk_kb_dense_state", "Dense search signal: 1 for the current state", ["state"])
DENSE_MISSING = Gauge("helpdesk_kb_dense_missing_vectors", "Live articles still waiting for their vector")
EMBEDDED = Counter("helpdesk_kb_dense_embedded_total", "Texts embedded by the model", ["kind"])
LEXICAL_ONLY = Counter(
    "helpdesk_kb_search_lexical_only_total", "Searches answered without the dense signal (model unavailable)"
)
