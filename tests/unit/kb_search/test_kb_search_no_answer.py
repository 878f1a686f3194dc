"""The "no good answer" rule: a query whose nearest article is not clearly closer to it than small
talk is, and whose words the index does not all know, is answered with nothing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from kb_search.domain.article import Article
from kb_search.embedding.bias import normalise
from kb_search.embedding.dense import DenseIndex
from kb_search.embedding.model import Vectors
from kb_search.search.analysis import Analyzer
from kb_search.search.fusion import TUNED_ANSWER_LEAD, Evidence, Fusion, Signals, no_good_answer
from kb_search.search.index import SearchIndex

pytestmark = pytest.mark.unit

DIM = 4


def test_an_unknown_query_barely_closer_to_an_article_than_to_small_talk_has_no_answer() -> None:
    fusion = Fusion(answer_lead=TUNED_ANSWER_LEAD)  # 0.047
    assert no_good_answer(Evidence(coverage=0.0, best=0.84, generic=0.80), fusion)  # lead 0.04
    assert not no_good_answer(Evidence(coverage=0.0, best=0.88, generic=0.80), fusion)  # lead 0.08
    # The cosine alone decides nothing: the same 0.84 is an answer beside quieter small talk.
    assert not no_good_answer(Evidence(coverage=0.0, best=0.84, generic=0.70), fusion)


def test_a_query_whose_words_the_index_all_knows_always_has_an_answer() -> None:
    fusion = Fusion(answer_lead=TUNED_ANSWER_LEAD)
    assert not no_good_answer(Evidence(coverage=1.0, best=0.80, generic=0.80), fusion)
    assert no_good_answer(Evidence(coverage=0.5, best=0.80, generic=0.80), fusion)


def test_the_rule_can_be_turned_off_and_never_applies_to_lexical_search() -> None:
    weak = Evidence(coverage=0.0, best=0.80, generic=0.80)
    assert not no_good_answer(weak, Fusion(answer_lead=None))
    assert not no_good_answer(weak, Fusion(signals=Signals.LEXICAL, answer_lead=TUNED_ANSWER_LEAD))
    assert no_good_answer(weak, Fusion(signals=Signals.DENSE, answer_lead=TUNED_ANSWER_LEAD))


AXES = np.eye(DIM, dtype=np.float32)
# Articles point along axes 0 and 1; small talk along axes 2 and 3.
GENERIC = normalise(np.stack([AXES[2], AXES[3], AXES[2] + AXES[3]]))
QUERIES = {
    "повернути гроші на картку": normalise(AXES[0] * 0.9 + AXES[2] * 0.3),  # near the refund article
    "zzqx blorp": normalise(AXES[0] * 0.3 + AXES[2] + AXES[3]),  # nearer small talk than any article
    "refund": normalise(AXES[2] + AXES[3]),  # a query the index knows: never asks the model
}


class TableEmbedder:
    """Fixed vectors: articles by their title's first word, queries from `QUERIES`."""

    model_id = "table-1"
    dim = DIM

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return np.stack([QUERIES[t] for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return np.stack([AXES[0] if t.startswith("Refund") else AXES[1] for t in texts])


def article(number: int, title: str, body: str) -> Article:
    return Article.from_mapping(
        {"id": f"d{number}", "lang": "en", "section": "bookings", "title": title, "body": body}
    )


@pytest.fixture
def index(analyzer: Analyzer) -> SearchIndex:
    dense = DenseIndex(TableEmbedder(), generic=GENERIC, background=False)
    built = SearchIndex(analyzer=analyzer, dense=dense, fusion=Fusion(answer_lead=TUNED_ANSWER_LEAD))
    built.upsert(article(1, "Refund to a card", "Return the money of a payment to the card."), version=1)
    built.upsert(article(2, "Night audit", "The night audit closes the business day."), version=1)
    return built


def test_a_search_with_no_good_answer_returns_no_hits(index: SearchIndex) -> None:
    result = index.search("zzqx blorp", lang="en")
    assert result.hits == () and result.total == 0


def test_an_unknown_query_near_an_article_is_still_answered(index: SearchIndex) -> None:
    assert [h.id for h in index.search("повернути гроші на картку", lang="uk").hits][:1] == ["d1"]


def test_a_known_query_is_answered_whatever_its_vector(index: SearchIndex) -> None:
    assert [h.id for h in index.search("refund", lang="en").hits][:1] == ["d1"]


async def test_the_event_loop_path_applies_the_same_rule(index: SearchIndex) -> None:
    assert (await index.search_async("zzqx blorp", lang="en")).hits == ()
    assert (await index.search_async("повернути гроші на картку", lang="uk")).hits


def test_without_generic_vectors_every_search_has_an_answer(analyzer: Analyzer) -> None:
    dense = DenseIndex(TableEmbedder(), background=False)
    built = SearchIndex(analyzer=analyzer, dense=dense, fusion=Fusion(answer_lead=TUNED_ANSWER_LEAD))
    built.upsert(article(1, "Refund to a card", "Return the money."), version=1)
    assert built.search("zzqx blorp", lang="en").hits


def test_the_service_answers_every_query_unless_the_rule_is_configured(analyzer: Analyzer) -> None:
    dense = DenseIndex(TableEmbedder(), generic=GENERIC, background=False)
    default = SearchIndex(analyzer=analyzer, dense=dense)
    default.upsert(article(1, "Refund to a card", "Return the money."), version=1)
    assert default.search("zzqx blorp", lang="en").hits
