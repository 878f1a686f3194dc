"""The articles of one replica as the search index holds them: writing (indexing and retiring
articles into the postings, the vocabulary, the translation groups and the dense signal) and the
lookups by id, key, section and translation group. Ranking over it is `index.SearchIndex`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from kb_search.domain.article import Article
from kb_search.search.analysis import Analyzer
from kb_search.search.bodies import BodyFile
from kb_search.search.fusion import DenseSignal
from kb_search.search.grouping import TranslationGroups
from kb_search.search.hits import Document
from kb_search.search.normalise import Script, normalise_text, raw_word_counts, script
from kb_search.search.postings import Postings
from kb_search.search.results import Variant
from kb_search.search.snippets import markdown_to_text
from kb_search.search.vocabulary import Vocabulary
from shared.contracts.kb import article_key

TITLE_WEIGHT = 3.0
TAG_WEIGHT = 2.0
BODY_WEIGHT = 1.0


class IndexStore:
    """Live articles of one replica. Not thread-safe: one event loop feeds and queries it."""

    def __init__(
        self, *, analyzer: Analyzer, dense: DenseSignal | None = None, bodies: BodyFile | None = None
    ) -> None:
        self._analyzer = analyzer
        self.dense = dense
        self.bodies = bodies if bodies is not None else BodyFile()  # an empty one is falsy
        self._postings = Postings()
        self.vocabulary = Vocabulary()
        self._docs: dict[int, Document] = {}
        self._doc_ids: dict[str, int] = {}
        self._keys: dict[str, str] = {}
        self._langs: list[str] = []
        self._next_doc_id = 0
        # Term → the surface words seen with it (grows only), to highlight by one regex per query.
        # A tuple (~2 words a term on a realistic vocabulary): 48-64 bytes where a set took 216.
        self._surfaces: dict[str, tuple[str, ...]] = {}
        # Dropped on every change: the other versions of an article; per document its group's
        # root; per root the languages the group has.
        self._variants: dict[str, tuple[Variant, ...]] = {}
        self._roots: dict[int, str] = {}
        self._group_langs: dict[str, frozenset[str]] = {}
        self._groups = TranslationGroups()
        self._latin: list[str] | None = None
        self.generation = 0

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._doc_ids

    @property
    def postings(self) -> Mapping[str, Sequence[int]]:
        """Term → the documents containing it (read-only for callers)."""
        return self._postings.docs

    def get(self, article_id: str) -> Document | None:
        doc_id = self._doc_ids.get(article_id)
        return None if doc_id is None else self._docs[doc_id]

    def resolve(self, id_or_key: str) -> Document | None:
        """An article by its id or by its key (`shared.contracts.kb.article_key`)."""
        return self.get(id_or_key) or self.get(self._keys.get(id_or_key, ""))

    def variants(self, article_id: str) -> tuple[Variant, ...]:
        """The other live language versions of an article."""
        cached = self._variants.get(article_id)
        if cached is not None:
            return cached
        out = []
        for other_id in self._groups.members(self._groups.root(article_id)):
            other = self.get(other_id)
            if other is not None and other_id != article_id:
                o = other.head
                out.append(Variant(id=o.id, lang=o.lang.value, title=o.title, slug=o.slug, url=o.url))
        found = self._variants[article_id] = tuple(sorted(out, key=lambda v: (v.lang, v.id)))
        return found

    def documents(self) -> list[Document]:
        return list(self._docs.values())

    def upsert(self, article: Article, *, version: int) -> None:
        """Index `article`, replacing its previous version if any."""
        document = Document(article, version, bodies=self.bodies)
        head = document.head  # its id and translations are the strings every other mention shares
        doc_id = self._doc_ids.get(head.id)
        if doc_id is None:
            doc_id = self._next_doc_id
            self._next_doc_id += 1
            self._langs.append("")
            self._doc_ids[head.id] = doc_id
            self._keys[article_key(head.id)] = head.id
        else:
            self._unindex(doc_id)
        lang = article.lang.value
        plain = markdown_to_text(article.body)
        weighted, surface = self._analyse(article, plain)
        self._langs[doc_id] = lang
        self.vocabulary.add_all(surface)
        self._docs[doc_id] = document
        self._postings.add(doc_id, weighted, section=article.section)
        self._groups.add(head.id, head.translations)
        if self.dense is not None:
            self.dense.add(doc_id, title=article.title, text=plain, lang=lang)
        self._changed()

    def _analyse(self, article: Article, plain: str) -> tuple[dict[str, float], set[str]]:
        """The article's terms with their weighted tf, and its distinct surface words (new ones
        recorded per term in `_surfaces`). The same article always gives the same: retiring it
        analyses it again instead of keeping both per document (~1.8 KiB an article)."""
        lang = article.lang.value
        weighted: dict[str, float] = {}
        surface: set[str] = set()
        surfaces = self._surfaces
        analysed = self._analyzer.analysed
        get = weighted.get
        for text, weight in (
            (article.title, TITLE_WEIGHT),
            (" ".join(article.tags), TAG_WEIGHT),
            (plain, BODY_WEIGHT),
        ):
            # Every weight and count is a whole number: a sum of them is exact in any order, so
            # `weight * count` per distinct spelling equals adding `weight` at each occurrence.
            # One pass per distinct spelling (two spellings repaired into one word by
            # `fix_mixed_script` count apart, as they did as words): this loop is most of indexing.
            for raw, count in raw_word_counts(normalise_text(text)).items():
                found = analysed(raw, lang)
                if found is None:
                    continue
                word, terms = found
                added = weight * count
                if word in surface:
                    for term in terms:
                        weighted[term] = get(term, 0.0) + added
                    continue
                surface.add(word)
                for term in terms:
                    weighted[term] = get(term, 0.0) + added
                    known = surfaces.get(term)
                    if known is None:
                        surfaces[term] = (word,)
                    elif word not in known:
                        surfaces[term] = (*known, word)
        return weighted, surface

    def remove(self, article_id: str) -> bool:
        """Drop a retired article; False when it was not indexed."""
        doc_id = self._doc_ids.pop(article_id, None)
        if doc_id is None:
            return False
        self._keys.pop(article_key(article_id), None)
        self._unindex(doc_id)
        self._groups.remove(article_id)
        self._changed()
        return True

    def _unindex(self, doc_id: int) -> None:
        document = self._docs.pop(doc_id)
        article = document.article
        document.discard()
        weighted, surface = self._analyse(article, markdown_to_text(article.body))
        self._postings.remove(doc_id, weighted)
        if self.dense is not None:
            self.dense.discard(doc_id)
        for word in surface:
            self.vocabulary.discard(word)

    def _changed(self) -> None:
        self.generation += 1
        self._variants.clear()
        self._roots.clear()
        self._group_langs.clear()
        self._latin = None

    def prepare(self) -> None:
        """Build the per-term lists queries read (see `Postings.prepare`), sort the typo keys in
        (`Vocabulary.prepare`) and list the Latin words."""
        self._postings.prepare()
        self.vocabulary.prepare()
        self.latin_words()

    def latin_words(self) -> list[str]:
        if self._latin is None:
            # Sorted: a tie between spellings is broken the same way whatever order they came in.
            self._latin = sorted(w for w in self.vocabulary.words() if script(w) is Script.LATIN)
        return self._latin

    def _root(self, doc_id: int) -> str:
        root = self._roots.get(doc_id)
        if root is None:
            root = self._roots[doc_id] = self._groups.root(self._docs[doc_id].head.id)
        return root

    def _languages_of(self, root: str) -> frozenset[str]:
        found = self._group_langs.get(root)
        if found is None:
            doc_ids = (self._doc_ids.get(i) for i in self._groups.members(root))
            found = self._group_langs[root] = frozenset(self._langs[d] for d in doc_ids if d is not None)
        return found

    def browse(self, *, section: str, lang: str = "") -> list[Document]:
        """A section's live articles, one language version of each: `lang`'s where it exists, else
        every other version there is; sorted by title."""
        docs = [d for d in self._docs.values() if d.head.section == section]
        if lang:

            def shown(d: Document) -> bool:
                own = d.head.lang.value == lang
                return own or not any(v.lang == lang for v in self.variants(d.head.id))

            docs = [d for d in docs if shown(d)]
        return sorted(docs, key=lambda d: (d.head.title.casefold(), d.head.id))

    def sections(self) -> dict[str, dict[str, int]]:
        """Live article counts per section and language."""
        out: dict[str, Counter[str]] = {}
        for doc in self._docs.values():
            out.setdefault(doc.head.section, Counter())[doc.head.lang.value] += 1
        return {section: dict(sorted(counts.items())) for section, counts in sorted(out.items())}
