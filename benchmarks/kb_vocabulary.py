"""Word pools for a generated knowledge base with a realistic vocabulary (`kb_memory --vocabulary
realistic`): tens of thousands of word forms a language instead of the demo's ~1,000."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# `--vocabulary realistic`: the generated corpus reuses the demo's ~3,800 words, where a real
# knowledge base of 10,000 articles in four languages has tens of thousands of word forms in each.
# How many forms each language's pool holds (the demo's, wiki's and relevance queries' words first,
# in the demo's frequency order, then the rest); the generator draws them with Zipf-like weights
# (1 / rank^0.9), so the rarest are met about once or not at all.
REALISTIC_POOL = {"uk": 45_000, "ru": 45_000, "pl": 40_000, "en": 25_000}
WORD = re.compile(r"^[^\W\d_]{3,}$")
EN_PREFIXES = (
    "re",
    "un",
    "pre",
    "over",
    "under",
    "sub",
    "inter",
    "non",
    "mis",
    "out",
    "co",
    "de",
    "dis",
    "multi",
    "post",
    "self",
)
EN_SUFFIXES = (
    "s",
    "es",
    "ed",
    "ing",
    "er",
    "ers",
    "ly",
    "ness",
    "ment",
    "ments",
    "able",
    "ation",
    "ations",
    "ity",
    "ize",
    "ized",
    "izing",
    "less",
    "ful",
    "al",
    "ally",
    "ive",
    "ist",
    "ism",
)
PL_PREFIXES = (
    "po",
    "prze",
    "przy",
    "wy",
    "za",
    "roz",
    "od",
    "nad",
    "do",
    "u",
    "ob",
    "na",
    "s",
    "współ",
    "nie",
)
PL_ENDINGS = (
    "a",
    "y",
    "ie",
    "ę",
    "ą",
    "om",
    "ami",
    "ach",
    "ów",
    "owi",
    "em",
    "u",
    "i",
    "ego",
    "emu",
    "ym",
    "ej",
    "ych",
    "ymi",
    "ość",
    "ości",
    "anie",
    "ania",
    "aniu",
    "ować",
    "uje",
    "ują",
    "ał",
    "ała",
    "ało",
    "ali",
    "ały",
    "ny",
    "na",
    "ne",
    "nych",
    "owy",
    "owa",
    "owe",
    "ek",
    "ka",
    "ki",
    "ce",
)
VOWELS = frozenset("aeiouyąęó")


def realistic_vocabularies(demo: dict[str, list[str]], rng: random.Random) -> dict[str, list[str]]:
    """Per language, `REALISTIC_POOL` word forms, most frequent first: the demo's words (as the
    default corpus ranks them), then the wiki articles' and relevance queries' words, then for
    Ukrainian and Russian real inflected forms of dictionary lemmas (pymorphy3's), for English and
    Polish forms derived from those words by real prefixes and endings. A lemma's forms stay
    together in the order (a frequent lemma has frequent forms); lemmas are shuffled."""
    from kb_search.adapters.article_files import read_articles
    from kb_search.search.normalise import words

    data = ROOT / "benchmarks" / "data"
    known: dict[str, list[str]] = {lang: list(pool) for lang, pool in demo.items()}
    texts: list[tuple[str, str]] = [
        (item.article.lang.value, f"{item.article.title} {item.article.body}")
        for item in read_articles(data / "kb_wiki_articles.jsonl")
        if item.article
    ]
    for name in ("kb_wiki_relevance.jsonl", "kb_relevance.jsonl", "kb_wiki_negatives.jsonl"):
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                query = json.loads(line)
                texts.append((query.get("lang", ""), query["q"]))
    for lang, text in texts:
        if lang in known:
            known[lang] += [w for w in words(text) if WORD.match(w)]
    out = {}
    for lang in sorted(known):
        head = list(dict.fromkeys(known[lang]))
        size = REALISTIC_POOL.get(lang, len(head))
        if lang in ("uk", "ru"):
            groups = _dictionary_lemmas(lang, head, size - len(head), rng)
        else:
            groups = _derived_forms(lang, head, size - len(head), rng)
        pool = dict.fromkeys(head)
        for group in groups:
            pool.update(dict.fromkeys(group))
        out[lang] = list(pool)[:size]
    return out


def _dictionary_lemmas(lang: str, head: list[str], wanted: int, rng: random.Random) -> list[list[str]]:
    """Groups of a lemma's forms (the normal form and up to a few more of its paradigm), lemmas
    picked by random descents through pymorphy3's words DAWG from the first two letters of a word
    of `head` (so initial letters are as frequent as in the demo's words), until `wanted` forms."""
    import dawg_python
    import pymorphy3

    dictionary = pymorphy3.MorphAnalyzer(lang=lang).dictionary
    dawg = dictionary.words
    # The same file read by the pure-Python reader, whose nodes `_random_key` walks (pymorphy3
    # reads it with the DAWG2 extension when that is installed, which has no such walk).
    walker = dawg_python.RecordDAWG(">HH").load(str(Path(dictionary.path) / "words.dawg"))
    seen = set(head)
    lemmas: set[str] = set()
    groups: list[list[str]] = []
    count = 0
    starts = [w[:2] for w in head if len(w) > 3]
    while count < wanted:
        key = _random_key(walker, rng.choice(starts), rng)
        if key is None or not WORD.match(key):
            continue
        para_id, idx = dawg[key][0]
        paradigm = dictionary.paradigms[para_id]
        n = len(paradigm) // 3
        stem = dictionary.build_stem(paradigm, idx, key)
        forms = list(
            dict.fromkeys(
                dictionary.paradigm_prefixes[paradigm[2 * n + i]] + stem + dictionary.suffixes[paradigm[i]]
                for i in range(n)
            )
        )
        if forms[0] in lemmas:
            continue
        lemmas.add(forms[0])
        # A real text meets a lemma in a few of its forms, not in its whole paradigm.
        picked = [forms[0], *rng.sample(forms[1:], k=min(len(forms) - 1, int(rng.expovariate(1 / 3))))]
        group = [f for f in picked if f not in seen and WORD.match(f)]
        seen.update(group)
        groups.append(group)
        count += len(group)
    return groups


def _random_key(dawg: Any, start: str, rng: random.Random) -> str | None:
    """A key of a pymorphy3 words DAWG below `start`, each next byte picked at random among those
    the DAWG has there; the key ends (its payload separator) with a probability of one in three
    where it may, after four letters."""
    dct, guide = dawg.dct, dawg.guide
    key = bytearray(start.encode())
    index = dct.follow_bytes(bytes(key), dct.ROOT)
    while index is not None:
        labels = []
        label = guide.child(index)
        while label:
            labels.append(label)
            label = guide.sibling(dct.follow_char(label, index))
        if not labels:
            return None
        end = 1 in labels and len(key.decode(errors="ignore")) >= 4 and rng.random() < 1 / 3
        if end or labels == [1]:
            return key.decode(errors="strict")
        label = rng.choice([x for x in labels if x != 1])
        index = dct.follow_char(label, index)
        key.append(label)
    return None


def _derived_forms(lang: str, head: list[str], wanted: int, rng: random.Random) -> list[list[str]]:
    """Groups of forms derived from a word of `head` (English and Polish have no dictionary here):
    a prefix, an ending or both, until `wanted` new forms."""
    prefixes, endings = (EN_PREFIXES, EN_SUFFIXES) if lang == "en" else (PL_PREFIXES, PL_ENDINGS)
    bases = [w for w in head if len(w) > 3]
    seen = set(head)
    groups: list[list[str]] = []
    count = 0
    while count < wanted:
        word = rng.choice(bases)
        stem = word[:-1] if lang == "pl" and word[-1] in VOWELS else word
        prefix = rng.choice(("", *prefixes))
        group = [
            form
            for form in dict.fromkeys(prefix + stem + e for e in rng.sample(endings, k=rng.randint(1, 4)))
            if form not in seen
        ]
        seen.update(group)
        groups.append(group)
        count += len(group)
    return groups
