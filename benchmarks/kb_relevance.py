"""Relevance of the kb-search engine on the relevance set: recall@1, recall@3 and MRR per language
and per query kind, for each cross-language method.

    .venv/bin/python benchmarks/kb_relevance.py [--articles PATH] [--queries PATH] [--glossary PATH]
                                                [--cross-language none|glossary|translit|both|all]

The index is built in process from the article file (no NATS): the same engine a replica runs. A
hit counts as relevant when its id, or the id of one of its grouped language versions, is listed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "kb-search")]

from kb_search.adapters.article_files import read_articles  # noqa: E402
from kb_search.search.analysis import Analyzer  # noqa: E402
from kb_search.search.crosslang import CrossLanguage, Glossary  # noqa: E402
from kb_search.search.index import SearchIndex  # noqa: E402
from kb_search.settings import DEMO_DIR  # noqa: E402

K = 10


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


def evaluate(
    index: SearchIndex, queries: list[dict[str, object]], *, show_misses: bool
) -> dict[str, dict[str, list[float]]]:
    """Per group ('all', 'lang=uk', 'kind=typo', …): lists of (hit@1, hit@3, reciprocal rank)."""
    groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"r1": [], "r3": [], "rr": []})
    for query in queries:
        relevant = set(query.get("relevant") or [])  # type: ignore[call-overload]
        result = index.search(str(query["q"]), lang=str(query.get("lang") or ""), limit=K)
        rank = next((i for i, hit in enumerate(result.hits, start=1) if hit.ids & relevant), None)
        for key in ("all", f"lang={query.get('lang')}", f"kind={query.get('kind')}"):
            groups[key]["r1"].append(1.0 if rank == 1 else 0.0)
            groups[key]["r3"].append(1.0 if rank is not None and rank <= 3 else 0.0)
            groups[key]["rr"].append(1.0 / rank if rank else 0.0)
        if show_misses and rank != 1:
            top = [h.id for h in result.hits[:3]]
            print(f"  miss (rank {rank}) [{query.get('kind')}/{query.get('lang')}] {query['q']!r} → {top}")
    return groups


def report(mode: str, groups: dict[str, dict[str, list[float]]]) -> None:
    print(f"\ncross-language method: {mode}")
    print(f"{'group':<22}{'n':>5}{'recall@1':>10}{'recall@3':>10}{'MRR':>8}")
    for key in sorted(groups, key=lambda k: (k != "all", k)):
        g = groups[key]
        n = len(g["r1"])
        print(f"{key:<22}{n:>5}{sum(g['r1']) / n:>10.3f}{sum(g['r3']) / n:>10.3f}{sum(g['rr']) / n:>8.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=Path, default=DEMO_DIR / "articles.jsonl")
    parser.add_argument("--queries", type=Path, default=ROOT / "benchmarks" / "data" / "kb_relevance.jsonl")
    parser.add_argument("--glossary", type=Path, default=DEMO_DIR / "glossary.json")
    parser.add_argument("--cross-language", default="all", choices=[*CrossLanguage, "all"])
    parser.add_argument("--misses", action="store_true", help="print the queries not answered at rank 1")
    args = parser.parse_args()

    analyzer = Analyzer()
    items = list(read_articles(args.articles))
    bad = [item for item in items if item.article is None]
    for item in bad:
        print(f"{item.location}: skipped, {item.problem}", file=sys.stderr)
    glossary = Glossary.load(args.glossary, analyzer) if args.glossary.is_file() else Glossary()
    queries = load_queries(args.queries)
    print(
        f"{len(items) - len(bad)} articles, {len(queries)} queries, "
        f"{len(glossary.concepts)} glossary concepts"
    )
    modes = list(CrossLanguage) if args.cross_language == "all" else [CrossLanguage(args.cross_language)]
    for mode in modes:
        index = SearchIndex(analyzer=analyzer, glossary=glossary, cross_language=mode)
        for item in items:
            if item.article is not None:
                index.upsert(item.article, version=1)
        started = time.perf_counter()
        groups = evaluate(index, queries, show_misses=args.misses and mode is modes[-1])
        elapsed = time.perf_counter() - started
        report(mode.value, groups)
        print(f"({len(queries)} queries in {elapsed * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
