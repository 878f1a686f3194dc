"""Language versions of one article, grouped by their `translations` links (in either direction).

Components are recomputed lazily after a change; the group's name is its smallest id, so every
replica names a group the same way.
"""

from __future__ import annotations

from collections.abc import Iterable


class TranslationGroups:
    def __init__(self) -> None:
        self._links: dict[str, tuple[str, ...]] = {}
        self._root: dict[str, str] = {}
        self._members: dict[str, tuple[str, ...]] = {}
        self._stale = False

    def add(self, article_id: str, translations: Iterable[str]) -> None:
        self._links[article_id] = tuple(translations)
        self._stale = True

    def remove(self, article_id: str) -> None:
        if self._links.pop(article_id, None) is not None:
            self._stale = True

    def root(self, article_id: str) -> str:
        if self._stale:
            self._rebuild()
        return self._root.get(article_id, article_id)

    def members(self, root: str) -> tuple[str, ...]:
        """Ids of the live articles in the group (the root's own id included)."""
        if self._stale:
            self._rebuild()
        return self._members.get(root, (root,))

    def _rebuild(self) -> None:
        neighbours: dict[str, set[str]] = {}
        for article_id, translations in self._links.items():
            neighbours.setdefault(article_id, set())
            for other in translations:
                neighbours[article_id].add(other)
                neighbours.setdefault(other, set()).add(article_id)
        self._root = {}
        self._members = {}
        for start in neighbours:
            if start in self._root:
                continue
            component = {start}
            frontier = [start]
            while frontier:
                for other in neighbours[frontier.pop()]:
                    if other not in component:
                        component.add(other)
                        frontier.append(other)
            root = min(component)
            for member in component:
                self._root[member] = root
            self._members[root] = tuple(sorted(m for m in component if m in self._links))
        self._stale = False
